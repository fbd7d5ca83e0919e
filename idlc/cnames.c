/* The C names generated code declares, derived from IDL names (see
 * cnames.h): the one place that spells them, for the generators and the
 * checker's clash check alike. */
#include <stdbool.h>
#include <string.h>

#include "cnames.h"

#define TYPES (IDLC_CNO_STRUCT | IDLC_CNO_ENUM | IDLC_CNO_SEQUENCE | IDLC_CNO_MAP)
#define MEMBERS (IDLC_CNO_METHOD | IDLC_CNO_EVENT)

/* How each kind is spelled: `format` takes the base, or for the event
 * kinds the interface's C name and the event's name. */
static const struct cname_rule {
    unsigned owners;     /* IDLC_CNO_ bits */
    const char *format;
    const char *word;    /* for messages */
} rules[IDLC_CN_KIND_COUNT] = {
    [IDLC_CN_ENCODE] = {TYPES, "%s_encode", "encode"},
    [IDLC_CN_DECODE] = {TYPES, "%s_decode", "decode"},
    [IDLC_CN_ENUM_NAME] = {IDLC_CNO_ENUM, "%s_name", "name"},
    [IDLC_CN_EVENT_COUNT] = {IDLC_CNO_INTERFACE, "%s_EVENT_COUNT", "EVENT_COUNT"},
    [IDLC_CN_METHOD_COUNT] = {IDLC_CNO_INTERFACE, "%s_METHOD_COUNT", "METHOD_COUNT"},
    [IDLC_CN_SIGNATURE_HASH] = {IDLC_CNO_INTERFACE, "%s_SIGNATURE_HASH", "SIGNATURE_HASH"},
    [IDLC_CN_VERSION_MAJOR] = {IDLC_CNO_INTERFACE, "%s_VERSION_MAJOR", "VERSION_MAJOR"},
    [IDLC_CN_VERSION_MINOR] = {IDLC_CNO_INTERFACE, "%s_VERSION_MINOR", "VERSION_MINOR"},
    [IDLC_CN_DESC] = {IDLC_CNO_INTERFACE, "%s_desc", "desc"},
    [IDLC_CN_METHODS] = {IDLC_CNO_INTERFACE, "%s_methods", "methods"},
    [IDLC_CN_EVENTS] = {IDLC_CNO_INTERFACE, "%s_events", "events"},
    [IDLC_CN_OPS] = {IDLC_CNO_INTERFACE, "%s_ops", "ops"},
    [IDLC_CN_REGISTER] = {IDLC_CNO_INTERFACE, "%s_register", "register"},
    [IDLC_CN_ARGS] = {MEMBERS, "%s_args", "args"},
    [IDLC_CN_ARGS_ENCODE] = {MEMBERS, "%s_args_encode", "args_encode"},
    [IDLC_CN_ASYNC] = {IDLC_CNO_METHOD, "%s_async", "async"},
    [IDLC_CN_ASYNC_EX] = {IDLC_CNO_METHOD, "%s_async_ex", "async_ex"},
    [IDLC_CN_CB] = {IDLC_CNO_METHOD, "%s_cb", "cb"},
    [IDLC_CN_DONE] = {IDLC_CNO_METHOD, "%s_done", "done"},
    [IDLC_CN_EX] = {IDLC_CNO_METHOD, "%s_ex", "ex"},
    [IDLC_CN_INVOKE] = {IDLC_CNO_METHOD, "%s_invoke", "invoke"},
    [IDLC_CN_REPLY] = {IDLC_CNO_METHOD, "%s_reply", "reply"},
    [IDLC_CN_REPLY_ENCODE] = {IDLC_CNO_METHOD, "%s_reply_encode", "reply_encode"},
    [IDLC_CN_RESULT_DECODE] = {IDLC_CNO_METHOD, "%s_result_decode", "result_decode"},
    [IDLC_CN_OUTS] = {IDLC_CNO_METHOD, "%s_outs", "outs"},
    [IDLC_CN_VALUES] = {IDLC_CNO_METHOD, "%s_values", "values"},
    [IDLC_CN_RAISE] = {IDLC_CNO_METHOD, "%s_raise", "raise"},
    [IDLC_CN_DELIVER] = {IDLC_CNO_EVENT, "%s_deliver", "deliver"},
    [IDLC_CN_HANDLER] = {IDLC_CNO_EVENT, "%s_handler", "handler"},
    [IDLC_CN_EMIT] = {IDLC_CNO_EVENT, "%s_emit_%s", "emit"},
    [IDLC_CN_ON] = {IDLC_CNO_EVENT, "%s_on_%s", "on"},
    [IDLC_CN_BROADCAST] = {IDLC_CNO_EVENT, "%s_broadcast_%s", "broadcast"},
    [IDLC_CN_DEFINED] = {IDLC_CNO_SEQUENCE | IDLC_CNO_MAP, "%s_DEFINED", "DEFINED"},
    [IDLC_CN_ENTRY] = {IDLC_CNO_MAP, "%s_entry", "entry"},
    [IDLC_CN_ENTRY_DEFINED] = {IDLC_CNO_MAP, "%s_entry_DEFINED", "entry_DEFINED"},
    [IDLC_CN_HEADER_GUARD] = {IDLC_CNO_FILE, "PRPC_GEN_%s_H", "header guard"},
    [IDLC_CN_CLIENT_GUARD] = {IDLC_CNO_FILE, "PRPC_GEN_%s_CLIENT_H", "client header guard"},
    [IDLC_CN_SERVER_GUARD] = {IDLC_CNO_FILE, "PRPC_GEN_%s_SERVER_H", "server header guard"},
};

static bool is_event_kind(idlc_cname_kind which)
{
    return which == IDLC_CN_EMIT || which == IDLC_CN_ON || which == IDLC_CN_BROADCAST;
}

/* A macro name from any text: letters upper case, anything but a letter,
 * digit or '_' as '_'. */
static char *upper(char *s)
{
    for (char *p = s; p && *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    }
    return s;
}

const char *idlc__cname_decl(idlc_ctx *ctx, const char *module, const char *name)
{
    return idlc_sprintf(ctx, "%s_%s", module, name);
}

const char *idlc__cname_member(idlc_ctx *ctx, const char *parent, const char *name)
{
    return idlc_sprintf(ctx, "%s_%s", parent, name);
}

/* The names the generated functions give their own parameters and locals. */
static const char *const function_locals[] = {
    "args", "arena", "call", "cb", "client", "conn", "d", "dec", "enc", "error", "handler",
    "opts", "ops", "outs", "p", "params", "r", "result", "sent", "server", "st", "status",
    "table", "user", "values",
};

const char *idlc__cname_param(idlc_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < sizeof function_locals / sizeof function_locals[0]; i++)
        if (strcmp(name, function_locals[i]) == 0)
            return idlc_sprintf(ctx, "%s_", name);
    return name;
}

const char *idlc__cname(idlc_ctx *ctx, idlc_cname_kind which, const char *base)
{
    if ((unsigned)which >= IDLC_CN_KIND_COUNT || is_event_kind(which) || !base)
        return NULL;
    char *s = idlc_sprintf(ctx, rules[which].format, base);
    return rules[which].owners == IDLC_CNO_FILE ? upper(s) : s;
}

const char *idlc__cname_event(idlc_ctx *ctx, idlc_cname_kind which, const idlc_method *ev)
{
    if (!is_event_kind(which) || !ev->parent || !ev->parent->c_name)
        return NULL;
    return idlc_sprintf(ctx, rules[which].format, ev->parent->c_name, ev->name);
}

void idlc__cnames_claimed(idlc_ctx *ctx, idlc_cname_owner owner, const char *base, const idlc_method *ev,
                          idlc_cname_claim_fn claim, void *user)
{
    for (unsigned k = 0; k < IDLC_CN_KIND_COUNT; k++) {
        if (!(rules[k].owners & owner))
            continue;
        const char *name = is_event_kind((idlc_cname_kind)k) ? (ev ? idlc__cname_event(ctx, (idlc_cname_kind)k, ev) : NULL)
                                                              : idlc__cname(ctx, (idlc_cname_kind)k, base);
        if (name)
            claim(user, name, rules[k].word);
    }
}

/* ------------------------------------------------------ constructed types */

const idlc_type *idlc__cname_resolve(const idlc_type *t, const char **owner)
{
    /* Bounded: the checker rejects typedef cycles, but the clash check runs
     * on trees with errors and a generator must never loop on a tree it is
     * handed. */
    for (int guard = 0; guard < 1000 && t != NULL && t->kind == IDLC_TYPE_NAMED && t->target != NULL &&
                        t->target->kind == IDLC_DECL_TYPEDEF;
         guard++) {
        if (owner != NULL)
            *owner = t->target->module;
        t = t->target->u.typedef_.type;
    }
    return t;
}

/* The part of a constructed type's name that describes t. Deeper than any
 * valid type may nest, it gives up ("deep"): only the checker meets such a
 * tree, and reports it. */
static const char *mangle(idlc_ctx *ctx, const idlc_type *t, const char *owner, int depth)
{
    if (depth > 64)
        return "deep";
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (t->target == NULL)
            return "unresolved";
        if (owner != NULL && t->target->module != NULL && strcmp(t->target->module, owner) == 0)
            return t->target->name;
        return idlc__cname_decl(ctx, t->target->module, t->target->name);
    case IDLC_TYPE_SEQUENCE:
        if (t->size > 0)
            return idlc_sprintf(ctx, "seq%llu_%s", (unsigned long long)t->size, mangle(ctx, t->elem, owner, depth + 1));
        return idlc_sprintf(ctx, "seq_%s", mangle(ctx, t->elem, owner, depth + 1));
    case IDLC_TYPE_MAP:
        return idlc_sprintf(ctx, "map_%s_%s", mangle(ctx, t->key, owner, depth + 1),
                            mangle(ctx, t->elem, owner, depth + 1));
    case IDLC_TYPE_OPTIONAL:
        return idlc_sprintf(ctx, "opt_%s", mangle(ctx, t->elem, owner, depth + 1));
    case IDLC_TYPE_ARRAY:
        return idlc_sprintf(ctx, "arr%llu_%s", (unsigned long long)t->size, mangle(ctx, t->elem, owner, depth + 1));
    default:
        return idlc_type_kind_name(t->kind);
    }
}

const char *idlc__cname_type(idlc_ctx *ctx, const idlc_type *t, const char *owner)
{
    t = idlc__cname_resolve(t, &owner);
    return idlc__cname_decl(ctx, owner, mangle(ctx, t, owner, 0));
}
