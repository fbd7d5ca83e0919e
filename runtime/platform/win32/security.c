/* Who is who on Windows: the user SID of this process and of a pipe
 * client, the mapping of a SID onto prpc__peer (uid and the SID as text),
 * and the security descriptor every piperpc pipe is created with (owner and
 * SYSTEM only). */
#include <string.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

#include <sddl.h> /* after windows.h, which win32_io.h brings */

/* The token's user SID, copied into memory from prpc_alloc. */
prpc_status prpc__user_sid(HANDLE token, PSID *out)
{
    *out = NULL;
    DWORD len = 0;
    GetTokenInformation(token, TokenUser, NULL, 0, &len);
    if (len == 0)
        return prpc__win_status(GetLastError());
    TOKEN_USER *tu = prpc_alloc(len);
    if (tu == NULL)
        return PRPC_ERR_NO_MEMORY;
    prpc_status st = PRPC_ERR_IO;
    if (GetTokenInformation(token, TokenUser, tu, len, &len) && IsValidSid(tu->User.Sid)) {
        DWORD sl = GetLengthSid(tu->User.Sid);
        PSID s = prpc_alloc(sl);
        if (s == NULL) {
            st = PRPC_ERR_NO_MEMORY;
        } else if (CopySid(sl, s, tu->User.Sid)) {
            *out = s;
            st = PRPC_OK;
        } else {
            prpc_free(s);
        }
    }
    prpc_free(tu);
    return st;
}

static INIT_ONCE self_once = INIT_ONCE_STATIC_INIT;
static PSID self_sid;

static BOOL CALLBACK load_self(PINIT_ONCE once, PVOID p, PVOID *ctx)
{
    (void)once;
    (void)p;
    (void)ctx;
    HANDLE tok;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
        prpc__user_sid(tok, &self_sid);
        CloseHandle(tok);
    }
    return TRUE;
}

static PSID self(void)
{
    InitOnceExecuteOnce(&self_once, load_self, NULL, NULL);
    return self_sid;
}

bool prpc__sid_is_self(PSID sid)
{
    PSID me = self();
    return me != NULL && sid != NULL && EqualSid(me, sid);
}

static uint32_t rid_of(PSID sid)
{
    UCHAR n = *GetSidSubAuthorityCount(sid);
    return n > 0 ? (uint32_t)*GetSidSubAuthority(sid, n - 1u) : 0;
}

/* prpc__peer carries a 32-bit uid. On Windows it is the SID's relative id,
 * made exact for the question that matters (is this our own user?): a
 * different SID whose relative id happens to equal ours becomes UINT32_MAX,
 * so uid == self uid holds exactly when the SIDs are equal. */
uint32_t prpc__sid_uid(PSID sid)
{
    PSID me = self();
    if (me == NULL)
        return UINT32_MAX;
    if (EqualSid(me, sid))
        return rid_of(me);
    uint32_t r = rid_of(sid);
    return r == rid_of(me) ? UINT32_MAX : r;
}

bool prpc__sid_text(PSID sid, char *buf, size_t size)
{
    char *s = NULL;
    if (sid == NULL || size == 0 || !ConvertSidToStringSidA(sid, &s))
        return false;
    size_t n = strlen(s);
    bool ok = n < size;
    if (ok)
        memcpy(buf, s, n + 1);
    LocalFree(s);
    return ok;
}

void prpc__self_peer(prpc__peer *out)
{
    memset(out, 0, sizeof *out);
    out->pid = (int64_t)GetCurrentProcessId();
    PSID me = self();
    out->has_cred = true;
    out->uid = me ? rid_of(me) : UINT32_MAX;
    out->gid = 0;
    if (me != NULL)
        prpc__sid_text(me, out->user_sid, sizeof out->user_sid);
}

/* Whether the token comes from a network logon (it holds the NETWORK SID,
 * S-1-5-2): the client reached the pipe through the network redirector,
 * from another machine or through this machine's own name. */
static bool network_logon(HANDLE tok)
{
    BYTE netbuf[SECURITY_MAX_SID_SIZE];
    DWORD netlen = sizeof netbuf;
    if (!CreateWellKnownSid(WinNetworkSid, NULL, netbuf, &netlen))
        return true; /* cannot tell: assume the less trusting answer */
    DWORD len = 0;
    GetTokenInformation(tok, TokenGroups, NULL, 0, &len);
    if (len == 0)
        return true;
    TOKEN_GROUPS *tg = prpc_alloc(len);
    if (tg == NULL)
        return true;
    bool net = true;
    if (GetTokenInformation(tok, TokenGroups, tg, len, &len)) {
        net = false;
        for (DWORD i = 0; i < tg->GroupCount && !net; i++)
            net = EqualSid(tg->Groups[i].Sid, netbuf) != FALSE;
    }
    prpc_free(tg);
    return net;
}

/* The user the client presented when it opened the pipe: the token it lent
 * us (our clients lend SECURITY_IDENTIFICATION, enough to read it, never to
 * act as the client). *network tells whether that token comes from a
 * network logon; it stays true when the token cannot be read.
 * Impersonating a client changes only this thread, and only between the
 * two calls. */
static PSID impersonated_sid(HANDLE h, bool *network)
{
    *network = true;
    if (!ImpersonateNamedPipeClient(h))
        return NULL;
    PSID sid = NULL;
    HANDLE tok;
    if (OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &tok)) {
        prpc__user_sid(tok, &sid);
        *network = network_logon(tok);
        CloseHandle(tok);
    }
    /* A pool thread must not keep the client's identity. RevertToSelf does
     * not fail for a thread that impersonates; removing the thread token is
     * the same thing said differently, should it ever. */
    if (!RevertToSelf())
        SetThreadToken(NULL, NULL);
    return sid;
}

/* The user of a local process's primary token. */
static PSID process_sid(ULONG pid)
{
    PSID sid = NULL;
    HANDLE proc = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (proc != NULL) {
        HANDLE tok;
        if (OpenProcessToken(proc, TOKEN_QUERY, &tok)) {
            prpc__user_sid(tok, &sid);
            CloseHandle(tok);
        }
        CloseHandle(proc);
    }
    return sid;
}

/* The client's user first from the token it lent at open: that is the
 * identity the pipe's DACL admitted (a client thread impersonating another
 * user opens as that user), and the only one a remote client has. Failing
 * that (a client that opened with SECURITY_ANONYMOUS), a local client's
 * process token by its process id. When neither works the peer is marked as
 * an unknown user, which the default policy refuses.
 *
 * Where remote clients are allowed, a client may come through the network
 * redirector, and its process id then names a process on another machine:
 * it is neither reported (-1) nor looked up. Such a client is recognised by
 * its network-logon token; one whose token cannot be read counts as remote.
 * (GetNamedPipeClientComputerName would say it too, but Wine 8 lacks it and
 * a call to it ends the process there.) Without remote clients allowed,
 * Windows admits only local clients. */
void prpc__pipe_peer(HANDLE h, bool remote_allowed, prpc__peer *out)
{
    memset(out, 0, sizeof *out);
    out->pid = -1;
    out->has_cred = true;
    out->uid = UINT32_MAX;
    bool network = true;
    PSID sid = impersonated_sid(h, &network);
    bool local = !remote_allowed || !network;
    ULONG pid = 0;
    if (local && GetNamedPipeClientProcessId(h, &pid))
        out->pid = (int64_t)pid;
    if (sid == NULL && local && pid != 0)
        sid = process_sid(pid);
    if (sid != NULL) {
        out->uid = prpc__sid_uid(sid);
        if (!prpc__sid_text(sid, out->user_sid, sizeof out->user_sid))
            out->user_sid[0] = '\0';
        prpc_free(sid);
    }
}

/* Owner: our user. DACL, protected from inheritance: our user and SYSTEM,
 * full access (the server needs FILE_CREATE_PIPE_INSTANCE for its further
 * instances). Nobody else is granted anything, so Everyone and Anonymous
 * are refused. */
prpc_status prpc__pipe_security(PSECURITY_DESCRIPTOR *out, prpc__err *err)
{
    *out = NULL;
    PSID me = self();
    if (me == NULL) {
        prpc__set_err(err, "cannot read this process's user SID");
        return PRPC_ERR_IO;
    }
    BYTE sysbuf[SECURITY_MAX_SID_SIZE];
    DWORD syslen = sizeof sysbuf;
    if (!CreateWellKnownSid(WinLocalSystemSid, NULL, sysbuf, &syslen)) {
        prpc__set_win_err(err, GetLastError(), "cannot build the SYSTEM SID");
        return PRPC_ERR_IO;
    }
    DWORD acl_len = (DWORD)sizeof(ACL) + 2u * ((DWORD)sizeof(ACCESS_ALLOWED_ACE) - (DWORD)sizeof(DWORD)) +
                    GetLengthSid(me) + GetLengthSid(sysbuf);
    DWORD sl = GetLengthSid(me);
    size_t total = SECURITY_DESCRIPTOR_MIN_LENGTH + acl_len + sl;
    uint8_t *mem = prpc_alloc(total);
    if (mem == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(mem, 0, total);
    PSECURITY_DESCRIPTOR sd = mem;
    PACL acl = (PACL)(mem + SECURITY_DESCRIPTOR_MIN_LENGTH);
    PSID owner = (PSID)(mem + SECURITY_DESCRIPTOR_MIN_LENGTH + acl_len);
    CopySid(sl, owner, me);
    if (!InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION) ||
        !InitializeAcl(acl, acl_len, ACL_REVISION) ||
        !AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, me) ||
        !AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, sysbuf) ||
        !SetSecurityDescriptorOwner(sd, owner, FALSE) ||
        !SetSecurityDescriptorDacl(sd, TRUE, acl, FALSE) ||
        !SetSecurityDescriptorControl(sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED)) {
        prpc__set_win_err(err, GetLastError(), "cannot build the pipe's security descriptor");
        prpc_free(mem);
        return PRPC_ERR_IO;
    }
    *out = sd;
    return PRPC_OK;
}
