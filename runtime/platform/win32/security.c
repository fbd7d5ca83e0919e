/* Who is who on Windows: the user SID of this process and of a pipe
 * client, the mapping of a SID onto prpc__peer, and the security descriptor
 * every piperpc pipe is created with (owner and SYSTEM only). */
#include <string.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

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

void prpc__self_peer(prpc__peer *out)
{
    memset(out, 0, sizeof *out);
    out->pid = (int64_t)GetCurrentProcessId();
    PSID me = self();
    out->has_cred = true;
    out->uid = me ? rid_of(me) : UINT32_MAX;
    out->gid = 0;
}

/* The client's user from its process token; if that cannot be read, from
 * the identification token the client lent us at open
 * (SECURITY_IDENTIFICATION). When neither works the peer is marked as an
 * unknown user, which the default policy refuses. */
void prpc__pipe_peer(HANDLE h, prpc__peer *out)
{
    memset(out, 0, sizeof *out);
    out->pid = -1;
    out->has_cred = true;
    out->uid = UINT32_MAX;
    ULONG pid = 0;
    if (GetNamedPipeClientProcessId(h, &pid))
        out->pid = (int64_t)pid;
    PSID sid = NULL;
    if (pid != 0) {
        HANDLE proc = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
        if (proc != NULL) {
            HANDLE tok;
            if (OpenProcessToken(proc, TOKEN_QUERY, &tok)) {
                prpc__user_sid(tok, &sid);
                CloseHandle(tok);
            }
            CloseHandle(proc);
        }
    }
    if (sid == NULL && ImpersonateNamedPipeClient(h)) {
        HANDLE tok;
        if (OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &tok)) {
            prpc__user_sid(tok, &sid);
            CloseHandle(tok);
        }
        RevertToSelf();
    }
    if (sid != NULL) {
        out->uid = prpc__sid_uid(sid);
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
