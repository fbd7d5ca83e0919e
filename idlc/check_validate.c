/* The rules that need every name resolved: types (map keys, nested
 * optionals), union discriminators, error enums, typedef cycles and structs
 * or unions that contain themselves by value. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Rules that need every name resolved (through typedefs). */
void idlc__validate_type(checker *ck, const idlc_type *t, int depth)
{
    if (!t || depth > MAX_TYPE_DEPTH)
        return;
    switch (t->kind) {
    case IDLC_TYPE_MAP: {
        const idlc_type *k = idlc_type_resolve(t->key);
        bool ok = k && (idlc_type_kind_is_integer(k->kind) || k->kind == IDLC_TYPE_STRING ||
                        (k->kind == IDLC_TYPE_NAMED && k->target && k->target->kind == IDLC_DECL_ENUM));
        if (k && !(k->kind == IDLC_TYPE_NAMED && !k->target) && !ok)
            idlc_error(ck->ctx, &t->key->loc, "map keys must be integers, strings or enums");
        idlc__validate_type(ck, t->key, depth + 1);
        idlc__validate_type(ck, t->elem, depth + 1);
        return;
    }
    case IDLC_TYPE_OPTIONAL: {
        const idlc_type *e = idlc_type_resolve(t->elem);
        if (e && e->kind == IDLC_TYPE_OPTIONAL)
            idlc_error(ck->ctx, &t->loc, "optional<optional<...>> is not allowed: both absent "
                       "states are nil on the wire");
        idlc__validate_type(ck, t->elem, depth + 1);
        return;
    }
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_ARRAY:
        idlc__validate_type(ck, t->elem, depth + 1);
        return;
    default:
        return;
    }
}

/* After every name is resolved: the discriminator is an enum and each
 * label is one of its enumerators. */
void idlc__validate_union(checker *ck, idlc_decl *d)
{
    const idlc_type *disc = d->u.union_.discriminator;
    if (!disc)
        return;
    if (disc->kind == IDLC_TYPE_NAMED && !disc->target)
        return; /* unknown name, reported */
    const idlc_decl *e = idlc_type_decl(disc);
    if (!e || e->kind != IDLC_DECL_ENUM) {
        idlc_error(ck->ctx, &disc->loc, "a union switches on an enum type, not '%s'",
                   disc->kind == IDLC_TYPE_NAMED ? disc->name : idlc_type_kind_name(disc->kind));
        return;
    }
    d->u.union_.discriminator_enum = (idlc_decl *)e;
    for (idlc_union_case *c = d->u.union_.cases; c; c = c->next) {
        idlc_enumerator *found = NULL;
        for (idlc_enumerator *en = e->u.enum_.items; en; en = en->next)
            if (strcmp(en->name, c->label) == 0)
                found = en;
        if (!found) {
            idlc_error(ck->ctx, &c->label_loc, "'%s' is not an enumerator of '%s'", c->label, e->name);
            idlc_note(ck->ctx, &e->loc, "enum '%s' declared here", e->name);
        }
        c->enumerator = found;
    }
}

/* An enum named by raises: its values travel as the code of an error reply,
 * where negative codes are the framework's and 0 would read as success.
 * Each enum is checked once, however many methods raise it. */
void idlc__validate_error_enum(checker *ck, idlc_table *done, const idlc_method *m)
{
    bool oom = false;
    if (idlc__table_put(done, m->raises, m->raises, &oom) || oom) {
        if (oom)
            ck->ctx->oom = true;
        return;
    }
    for (idlc_enumerator *e = m->raises->u.enum_.items; e; e = e->next) {
        if (e->value > 0)
            continue;
        idlc_error(ck->ctx, &e->loc, "error code '%s' of enum '%s' is %" PRId64 "; error codes are positive "
                   "(negative codes belong to the framework)", e->name, m->raises->name, e->value);
        idlc_note(ck->ctx, &m->raises_loc, "'%s' is used as an error enum here", m->raises->name);
    }
}

/* ------------------------------------------------------------------ */
/* Typedef cycles and containment by value                             */

/* Follows every typedef a type mentions, at any depth. */
static bool typedef_walk(checker *ck, idlc_decl *self, const idlc_type *t, int depth);

bool idlc__typedef_chain(checker *ck, idlc_decl *d, int depth)
{
    uintptr_t st = GET_STATE(&ck->typedef_state, d);
    if (st == 2)
        return true;
    if (st == 1) {
        idlc_error(ck->ctx, &d->loc, "typedef '%s' refers to itself", d->name);
        return false;
    }
    if (depth >= MAX_VALUE_DEPTH) {
        idlc_error(ck->ctx, &d->loc, "more than %d typedefs refer to each other in a chain", MAX_VALUE_DEPTH);
        return false;
    }
    idlc__check_set_state(ck, &ck->typedef_state, d, 1);
    bool ok = typedef_walk(ck, d, d->u.typedef_.type, depth + 1);
    idlc__check_set_state(ck, &ck->typedef_state, d, 2);
    if (!ok) /* break the chain so later walks terminate */
        d->u.typedef_.type->target = NULL;
    return ok;
}

static bool typedef_walk(checker *ck, idlc_decl *self, const idlc_type *t, int depth)
{
    if (!t)
        return true;
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (t->target && t->target->kind == IDLC_DECL_TYPEDEF)
            return idlc__typedef_chain(ck, t->target, depth);
        return true;
    case IDLC_TYPE_MAP:
        return typedef_walk(ck, self, t->key, depth) && typedef_walk(ck, self, t->elem, depth);
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_ARRAY:
    case IDLC_TYPE_OPTIONAL:
        return typedef_walk(ck, self, t->elem, depth);
    default:
        return true;
    }
}

/* The height of a type: how many structs/unions it nests by value. */
static int value_type(checker *ck, const idlc_type *t, const char *via, const idlc_loc *via_loc, int depth)
{
    int h = 0;
    for (int guard = 0; t && guard <= MAX_VALUE_DEPTH; guard++) {
        if (t->kind == IDLC_TYPE_ARRAY) {
            t = t->elem;
            continue;
        }
        if (t->kind != IDLC_TYPE_NAMED || !t->target)
            return h;
        if (t->target->kind == IDLC_DECL_TYPEDEF) {
            t = t->target->u.typedef_.type;
            continue;
        }
        if (t->target->kind != IDLC_DECL_STRUCT && t->target->kind != IDLC_DECL_UNION)
            return h;
        ck->path[ck->path_len - 1].via_name = via;
        ck->path[ck->path_len - 1].via_loc = *via_loc;
        return idlc__value_height(ck, t->target, depth + 1);
    }
    return h;
}

int idlc__value_height(checker *ck, idlc_decl *d, int depth)
{
    uintptr_t st = GET_STATE(&ck->value_state, d);
    if (st == 2)
        return (int)GET_STATE(&ck->value_height, d) - 1;
    if (st == 1) {
        int start = 0;
        for (int i = 0; i < ck->path_len; i++)
            if (ck->path[i].decl == d)
                start = i;
        idlc_error(ck->ctx, &ck->path[start].via_loc, "%s '%s' contains itself by value "
                   "(optional<>, sequence<> or map<> would break the cycle)", idlc__decl_kind_name(d->kind), d->name);
        for (int i = start + 1; i < ck->path_len; i++)
            idlc_note(ck->ctx, &ck->path[i].via_loc, "through field '%s' of %s '%s'", ck->path[i].via_name,
                      idlc__decl_kind_name(ck->path[i].decl->kind), ck->path[i].decl->name);
        return 0;
    }
    if (depth > MAX_VALUE_DEPTH)
        return MAX_VALUE_DEPTH + 1;
    idlc__check_set_state(ck, &ck->value_state, d, 1);
    ck->path[ck->path_len].decl = d;
    ck->path[ck->path_len].via_name = NULL;
    ck->path_len++;
    int h = 0;
    if (d->kind == IDLC_DECL_STRUCT) {
        for (idlc_field *f = d->u.struct_.fields; f; f = f->next) {
            int r = value_type(ck, f->type, f->name, &f->loc, depth);
            h = r > h ? r : h;
        }
    } else {
        for (idlc_union_case *c = d->u.union_.cases; c; c = c->next) {
            int r = value_type(ck, c->type, c->name, &c->loc, depth);
            h = r > h ? r : h;
        }
    }
    ck->path_len--;
    h = h + 1 > MAX_VALUE_DEPTH + 1 ? MAX_VALUE_DEPTH + 1 : h + 1;
    idlc__check_set_state(ck, &ck->value_state, d, 2);
    idlc__check_set_state(ck, &ck->value_height, d, (uintptr_t)h + 1);
    return h;
}
