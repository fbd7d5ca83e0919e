/* The C definition order of each file's declarations. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* ------------------------------------------------------------------ */
/* C definition order                                                  */

/* What a declaration needs complete before its C definition: anything it
 * holds by value, and every enum and typedef it mentions anywhere (C can
 * forward-declare neither). Structs and unions inside optional<>,
 * sequence<> and map<> are only needed by name, so they may come later. */
static void deps_of_type(const idlc_type *t, const idlc_file *file, bool soft, idlc_decl **out, size_t *n,
                         size_t max, int depth)
{
    if (!t || depth > MAX_TYPE_DEPTH)
        return;
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (!t->target || t->target->file != file)
            return;
        if (soft && (t->target->kind == IDLC_DECL_STRUCT || t->target->kind == IDLC_DECL_UNION))
            return;
        if (*n < max)
            out[*n] = t->target;
        (*n)++;
        return;
    case IDLC_TYPE_MAP:
        deps_of_type(t->key, file, true, out, n, max, depth + 1);
        deps_of_type(t->elem, file, true, out, n, max, depth + 1);
        return;
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_OPTIONAL:
        deps_of_type(t->elem, file, true, out, n, max, depth + 1);
        return;
    case IDLC_TYPE_ARRAY:
        deps_of_type(t->elem, file, soft, out, n, max, depth + 1);
        return;
    default:
        return;
    }
}

/* The file's declarations such that each comes after those it mentions
 * (a depth-first post-order with an explicit stack; mentions that close a
 * cycle, legal through optional/sequence/map, are skipped). */
void idlc__order_decls(checker *ck, idlc_file *f)
{
    size_t n = f->decl_count;
    f->decl_order = idlc_alloc(ck->ctx, (n ? n : 1) * sizeof(*f->decl_order));
    if (!f->decl_order)
        return;
    idlc_table state;
    idlc__table_init(&state, true);
    typedef struct frame {
        idlc_decl *d;
        idlc_decl **deps;
        size_t ndeps;
        size_t next;
    } frame;
    frame *stack = calloc(n ? n : 1, sizeof(*stack));
    size_t out = 0;
    if (!stack) {
        ck->ctx->oom = true;
        idlc__table_free(&state);
        return;
    }
    for (idlc_decl *root = f->decls; root; root = root->next) {
        if (GET_STATE(&state, root))
            continue;
        size_t sp = 0;
        bool oom = false;
        idlc__table_put(&state, root, STATE(1), &oom);
        stack[sp++] = (frame){root, NULL, 0, 0};
        while (sp && !oom) {
            frame *top = &stack[sp - 1];
            if (!top->deps) {
                /* Collect what this declaration mentions. */
                size_t cap = 16, cnt = 0;
                idlc_decl **deps = malloc(cap * sizeof(*deps));
                if (!deps) {
                    oom = true;
                    break;
                }
                idlc_decl *d = top->d;
                for (;;) {
                    cnt = 0;
                    if (d->kind == IDLC_DECL_TYPEDEF)
                        deps_of_type(d->u.typedef_.type, f, false, deps, &cnt, cap, 0);
                    else if (d->kind == IDLC_DECL_STRUCT)
                        for (idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next)
                            deps_of_type(fl->type, f, false, deps, &cnt, cap, 0);
                    else if (d->kind == IDLC_DECL_UNION) {
                        deps_of_type(d->u.union_.discriminator, f, false, deps, &cnt, cap, 0);
                        for (idlc_union_case *c = d->u.union_.cases; c; c = c->next)
                            deps_of_type(c->type, f, false, deps, &cnt, cap, 0);
                    } else if (d->kind == IDLC_DECL_INTERFACE) {
                        for (int pass = 0; pass < 2; pass++)
                            for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m;
                                 m = m->next) {
                                deps_of_type(m->ret, f, false, deps, &cnt, cap, 0);
                                for (idlc_param *p = m->params; p; p = p->next)
                                    deps_of_type(p->type, f, false, deps, &cnt, cap, 0);
                                if (m->raises && m->raises->file == f) {
                                    if (cnt < cap)
                                        deps[cnt] = m->raises;
                                    cnt++;
                                }
                            }
                    }
                    if (cnt <= cap)
                        break;
                    cap = cnt;
                    idlc_decl **nd = realloc(deps, cap * sizeof(*nd));
                    if (!nd) {
                        oom = true;
                        break;
                    }
                    deps = nd;
                }
                top->deps = deps;
                top->ndeps = cnt;
                if (oom)
                    break;
            }
            if (top->next < top->ndeps) {
                idlc_decl *dep = top->deps[top->next++];
                uintptr_t st = GET_STATE(&state, dep);
                if (st == 1 && dep != top->d) {
                    /* Only shapes the checks above do not already reject
                     * get here, e.g. a struct holding a sequence of a
                     * typedef'd fixed array of itself. */
                    idlc_error(ck->ctx, &top->d->loc, "'%s' and '%s' need each other's C definitions first; "
                               "C cannot express this (use a struct instead of the typedef)",
                               top->d->name, dep->name);
                    continue;
                }
                if (st)
                    continue;
                idlc__table_put(&state, dep, STATE(1), &oom);
                stack[sp++] = (frame){dep, NULL, 0, 0};
                continue;
            }
            f->decl_order[out++] = top->d;
            idlc__table_set(&state, top->d, STATE(2));
            free(top->deps);
            sp--;
        }
        if (oom) {
            while (sp)
                free(stack[--sp].deps);
            ck->ctx->oom = true;
            break;
        }
    }
    free(stack);
    idlc__table_free(&state);
}
