/* The IDL grammar. Actions only build the tree (idlc/ast.h); every check
 * lives in check.c. Syntax errors are reported with bison's detailed
 * messages and the parser recovers at the next ';' or '}' so one run
 * reports as many errors as it can. */

%require "3.8"
%define api.pure full
%define api.prefix {idlc_yy}
%define api.location.type {idlc_yyltype}
%define parse.error detailed
%define parse.lac full
%locations
%expect 0
%parse-param {idlc_parse_state *ps}
%lex-param {idlc_parse_state *ps}

%code requires {
#include <stdint.h>
#include "parse_state.h"
}

%code provides {
/* The scanner proper (lexer.l); the grammar calls it through idlc_yylex. */
int idlc__lex(IDLC_YYSTYPE *yylval, IDLC_YYLTYPE *yylloc, void *scanner);
int idlc_yyparse(idlc_parse_state *ps);
}

%code {
#include <string.h>

static int idlc_yylex(IDLC_YYSTYPE *lval, IDLC_YYLTYPE *lloc, idlc_parse_state *ps)
{
    return idlc__lex(lval, lloc, ps->scanner);
}

static void idlc_yyerror(IDLC_YYLTYPE *l, idlc_parse_state *ps, const char *msg)
{
    idlc_loc loc = idlc__loc(ps, l);
    idlc_error(ps->ctx, &loc, "%s", msg);
}

/* A rule's location runs from its first non-empty child to its last one,
 * so a rule that starts with an absent attribute list still starts at its
 * first real token (where its doc comment is anchored). */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                              \
    do {                                                                         \
        if (N) {                                                                 \
            int k_ = 1, j_ = (N);                                                \
            while (k_ < (N) && YYRHSLOC(Rhs, k_).empty)                          \
                k_++;                                                            \
            while (j_ > k_ && YYRHSLOC(Rhs, j_).empty)                           \
                j_--;                                                            \
            (Cur).first_line = YYRHSLOC(Rhs, k_).first_line;                     \
            (Cur).first_column = YYRHSLOC(Rhs, k_).first_column;                 \
            (Cur).last_line = YYRHSLOC(Rhs, j_).last_line;                       \
            (Cur).last_column = YYRHSLOC(Rhs, j_).last_column;                   \
            (Cur).empty = YYRHSLOC(Rhs, k_).empty;                               \
        } else {                                                                 \
            (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line;    \
            (Cur).first_column = (Cur).last_column = YYRHSLOC(Rhs, 0).last_column; \
            (Cur).empty = 1;                                                     \
        }                                                                        \
    } while (0)

#define NEW(var) do { (var) = idlc_alloc(ps->ctx, sizeof(*(var))); if (!(var)) YYNOMEM; } while (0)
#define LOC(l) idlc__loc(ps, &(l))
#define DOC(l) idlc__doc_at(ps, &(l))
#define CHECK(p) do { if (!(p)) YYNOMEM; } while (0)

/* Appends node (whose link field is `next`) to an idlc_list. */
#define APPEND(list, node, type) do {                                             \
        if ((list).tail) ((type *)(list).tail)->next = (node);                    \
        else (list).head = (node);                                                \
        (list).tail = (node);                                                     \
        (list).count++;                                                           \
    } while (0)

static idlc_decl *new_decl(idlc_parse_state *ps, idlc_decl_kind kind, const char *name,
                           const IDLC_YYLTYPE *name_loc)
{
    idlc_decl *d = idlc_alloc(ps->ctx, sizeof(*d));
    if (!d)
        return NULL;
    d->kind = kind;
    d->name = name;
    d->loc = idlc__loc(ps, name_loc);
    d->file = ps->file;
    return d;
}
}

%union {
    const char *str;
    uint64_t num;
    idlc_type *type;
    idlc_expr *expr;
    idlc_attr *attr;
    idlc_list list;
    idlc_decl *decl;
    idlc_field *field;
    idlc_enumerator *enumr;
    idlc_union_case *ucase;
    idlc_method *method;
    idlc_param *param;
    int dir;
}

%token MODULE "'module'" IMPORT "'import'" CONST "'const'" TYPEDEF "'typedef'"
       ENUM "'enum'" STRUCT "'struct'" UNION "'union'" SWITCH "'switch'" CASE "'case'"
       INTERFACE "'interface'" ONEWAY "'oneway'" EVENT "'event'" RAISES "'raises'"
       IN "'in'" OUT "'out'" INOUT "'inout'" VOID "'void'"
       SEQUENCE "'sequence'" MAP "'map'" OPTIONAL "'optional'"
%token ATTR_OPEN "'[' (attribute list)"
%token <str> IDENT "identifier" STRING "string literal"
             ATTR_NAME "attribute name" VERSION_LIT "version number"
%token <num> INT "integer literal"

%type <str> scoped_name
%type <type> type ret_type raises_opt
%type <expr> const_expr
%type <attr> attr
%type <list> attrs_opt attr_list attr_items enum_body enum_list fields cases members params_opt params
%type <decl> definition
%type <field> field
%type <enumr> enumerator
%type <ucase> case_arm
%type <method> member
%type <param> param
%type <dir> dir

%%

file:
    items
    ;

items:
    %empty
  | items item
  ;

item:
    MODULE IDENT ';'
      {
          idlc_module_stmt *m;
          NEW(m);
          m->name = $2;
          m->loc = LOC(@2);
          m->keyword_loc = LOC(@1);
          m->late = ps->decls.count || ps->imports.count;
          APPEND(ps->modules, m, idlc_module_stmt);
          if (!ps->file->module) {
              ps->file->module = $2;
              ps->file->module_loc = LOC(@2);
              ps->file->doc = DOC(@1);
          }
      }
  | IMPORT STRING ';'
      {
          idlc_import *imp;
          NEW(imp);
          imp->path = $2;
          imp->loc = LOC(@2);
          APPEND(ps->imports, imp, idlc_import);
      }
  | attrs_opt definition
      {
          if ($2) {
              $2->attr_list = $1.head;
              $2->doc = DOC(@$);
              APPEND(ps->decls, $2, idlc_decl);
          }
      }
  | error ';'
  | error '}'
  ;

definition:
    CONST type IDENT '=' const_expr ';'
      {
          CHECK($$ = new_decl(ps, IDLC_DECL_CONST, $3, &@3));
          $$->u.constant.type = $2;
          $$->u.constant.expr = $5;
      }
  | TYPEDEF type IDENT ';'
      {
          CHECK($$ = new_decl(ps, IDLC_DECL_TYPEDEF, $3, &@3));
          $$->u.typedef_.type = $2;
      }
  | ENUM IDENT '{' enum_body '}' semi_opt
      {
          CHECK($$ = new_decl(ps, IDLC_DECL_ENUM, $2, &@2));
          $$->u.enum_.items = $4.head;
          $$->u.enum_.count = $4.count;
      }
  | STRUCT IDENT '{' fields '}' semi_opt
      {
          CHECK($$ = new_decl(ps, IDLC_DECL_STRUCT, $2, &@2));
          $$->u.struct_.fields = $4.head;
          $$->u.struct_.count = $4.count;
      }
  | UNION IDENT SWITCH '(' scoped_name ')' '{' cases '}' semi_opt
      {
          CHECK($$ = new_decl(ps, IDLC_DECL_UNION, $2, &@2));
          CHECK($$->u.union_.discriminator = idlc__type_named(ps, $5, &@5));
          $$->u.union_.cases = $8.head;
          $$->u.union_.count = $8.count;
      }
  | INTERFACE IDENT '{' members '}' semi_opt
      {
          CHECK($$ = new_decl(ps, IDLC_DECL_INTERFACE, $2, &@2));
          idlc_list methods = {0}, events = {0};
          idlc_method *m = $4.head;
          while (m) {
              idlc_method *next = m->next;
              m->next = NULL;
              if (m->is_event) {
                  m->index = events.count;
                  APPEND(events, m, idlc_method);
              } else {
                  m->index = methods.count;
                  APPEND(methods, m, idlc_method);
              }
              m = next;
          }
          $$->u.interface_.methods = methods.head;
          $$->u.interface_.method_count = methods.count;
          $$->u.interface_.events = events.head;
          $$->u.interface_.event_count = events.count;
      }
  ;

semi_opt:
    %empty
  | ';'
  ;

/* Attributes ------------------------------------------------------- */

attrs_opt:
    %empty                { memset(&$$, 0, sizeof($$)); }
  | attrs_opt attr_list
      {
          $$ = $1;
          if ($2.head) {
              if ($$.tail) ((idlc_attr *)$$.tail)->next = $2.head;
              else $$.head = $2.head;
              $$.tail = $2.tail;
              $$.count += $2.count;
          }
      }
  ;

attr_list:
    ATTR_OPEN attr_items ']'   { $$ = $2; }
  ;

attr_items:
    attr                       { memset(&$$, 0, sizeof($$)); APPEND($$, $1, idlc_attr); }
  | attr_items ',' attr        { $$ = $1; APPEND($$, $3, idlc_attr); }
  ;

attr:
    ATTR_NAME
      {
          NEW($$);
          $$->kind = idlc__attr_kind($1);
          $$->name = $1;
          $$->loc = LOC(@1);
          $$->arg_kind = IDLC_ARG_NONE;
      }
  | ATTR_NAME '(' STRING ')'
      {
          NEW($$);
          $$->kind = idlc__attr_kind($1);
          $$->name = $1;
          $$->loc = LOC(@1);
          $$->arg_kind = IDLC_ARG_STRING;
          $$->text = $3;
          $$->text_len = strlen($3);
          $$->arg_loc = LOC(@3);
      }
  | ATTR_NAME '(' INT ')'
      {
          NEW($$);
          $$->kind = idlc__attr_kind($1);
          $$->name = $1;
          $$->loc = LOC(@1);
          $$->arg_kind = IDLC_ARG_INT;
          $$->num = $3;
          $$->arg_loc = LOC(@3);
      }
  | ATTR_NAME '(' VERSION_LIT ')'
      {
          NEW($$);
          $$->kind = idlc__attr_kind($1);
          $$->name = $1;
          $$->loc = LOC(@1);
          $$->arg_kind = IDLC_ARG_VERSION;
          $$->text = $3;
          $$->text_len = strlen($3);
          $$->arg_loc = LOC(@3);
      }
  | ATTR_NAME '(' ATTR_NAME ')'
      {
          NEW($$);
          $$->kind = idlc__attr_kind($1);
          $$->name = $1;
          $$->loc = LOC(@1);
          $$->arg_kind = IDLC_ARG_IDENT;
          $$->text = $3;
          $$->text_len = strlen($3);
          $$->arg_loc = LOC(@3);
      }
  ;

/* Enums ------------------------------------------------------------ */

enum_body:
    %empty                { memset(&$$, 0, sizeof($$)); }
  | enum_list
  | enum_list ','
  ;

enum_list:
    enumerator                 { memset(&$$, 0, sizeof($$)); APPEND($$, $1, idlc_enumerator); }
  | enum_list ',' enumerator   { $$ = $1; APPEND($$, $3, idlc_enumerator); }
  ;

enumerator:
    attrs_opt IDENT
      {
          NEW($$);
          $$->name = $2;
          $$->loc = LOC(@2);
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
      }
  | attrs_opt IDENT '=' const_expr
      {
          NEW($$);
          $$->name = $2;
          $$->loc = LOC(@2);
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
          $$->value_expr = $4;
      }
  ;

/* Structs and unions ----------------------------------------------- */

fields:
    %empty                { memset(&$$, 0, sizeof($$)); }
  | fields field          { $$ = $1; if ($2) APPEND($$, $2, idlc_field); }
  ;

field:
    attrs_opt type IDENT ';'
      {
          NEW($$);
          $$->name = $3;
          $$->loc = LOC(@3);
          $$->type = $2;
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
      }
  | error ';'             { $$ = NULL; }
  ;

cases:
    %empty                { memset(&$$, 0, sizeof($$)); }
  | cases case_arm        { $$ = $1; if ($2) APPEND($$, $2, idlc_union_case); }
  ;

case_arm:
    attrs_opt CASE IDENT ':' type IDENT ';'
      {
          NEW($$);
          $$->label = $3;
          $$->label_loc = LOC(@3);
          $$->type = $5;
          $$->name = $6;
          $$->loc = LOC(@6);
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
      }
  | error ';'             { $$ = NULL; }
  ;

/* Interfaces ------------------------------------------------------- */

members:
    %empty                { memset(&$$, 0, sizeof($$)); }
  | members member        { $$ = $1; if ($2) APPEND($$, $2, idlc_method); }
  ;

member:
    attrs_opt ret_type IDENT '(' params_opt ')' raises_opt ';'
      {
          NEW($$);
          $$->name = $3;
          $$->loc = LOC(@3);
          $$->ret = $2;
          $$->params = $5.head;
          $$->param_count = $5.count;
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
          if ($7) {
              $$->raises_name = $7->name;
              $$->raises_loc = $7->loc;
          }
      }
  | attrs_opt ONEWAY ret_type IDENT '(' params_opt ')' raises_opt ';'
      {
          NEW($$);
          $$->oneway = true;
          $$->name = $4;
          $$->loc = LOC(@4);
          $$->ret = $3;
          $$->params = $6.head;
          $$->param_count = $6.count;
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
          if ($8) {
              $$->raises_name = $8->name;
              $$->raises_loc = $8->loc;
          }
      }
  | attrs_opt EVENT IDENT '(' params_opt ')' ';'
      {
          NEW($$);
          $$->is_event = true;
          $$->name = $3;
          $$->loc = LOC(@3);
          CHECK($$->ret = idlc__type_new(ps, IDLC_TYPE_VOID, &@2));
          $$->params = $5.head;
          $$->param_count = $5.count;
          $$->attr_list = $1.head;
          $$->doc = DOC(@$);
      }
  | error ';'             { $$ = NULL; }
  ;

ret_type:
    VOID                  { CHECK($$ = idlc__type_new(ps, IDLC_TYPE_VOID, &@1)); }
  | type
  ;

raises_opt:
    %empty                { $$ = NULL; }
  | RAISES '(' scoped_name ')'
      {
          CHECK($$ = idlc__type_new(ps, IDLC_TYPE_NAMED, &@3));
          $$->name = $3;
      }
  ;

params_opt:
    %empty                { memset(&$$, 0, sizeof($$)); }
  | params
  ;

params:
    param                 { memset(&$$, 0, sizeof($$)); APPEND($$, $1, idlc_param); }
  | params ',' param      { $$ = $1; APPEND($$, $3, idlc_param); }
  ;

param:
    type IDENT
      {
          NEW($$);
          $$->dir = IDLC_DIR_IN;
          $$->type = $1;
          $$->name = $2;
          $$->loc = LOC(@2);
      }
  | dir type IDENT
      {
          NEW($$);
          $$->dir = (idlc_param_dir)$1;
          $$->dir_explicit = true;
          $$->type = $2;
          $$->name = $3;
          $$->loc = LOC(@3);
      }
  ;

dir:
    IN                    { $$ = IDLC_DIR_IN; }
  | OUT                   { $$ = IDLC_DIR_OUT; }
  | INOUT                 { $$ = IDLC_DIR_INOUT; }
  ;

/* Types and constant expressions ------------------------------------ */

type:
    scoped_name           { CHECK($$ = idlc__type_named(ps, $1, &@1)); }
  | SEQUENCE '<' type '>'
      {
          CHECK($$ = idlc__type_new(ps, IDLC_TYPE_SEQUENCE, &@$));
          $$->elem = $3;
      }
  | SEQUENCE '<' type ',' const_expr '>'
      {
          CHECK($$ = idlc__type_new(ps, IDLC_TYPE_SEQUENCE, &@$));
          $$->elem = $3;
          $$->size_expr = $5;
      }
  | MAP '<' type ',' type '>'
      {
          CHECK($$ = idlc__type_new(ps, IDLC_TYPE_MAP, &@$));
          $$->key = $3;
          $$->elem = $5;
      }
  | OPTIONAL '<' type '>'
      {
          CHECK($$ = idlc__type_new(ps, IDLC_TYPE_OPTIONAL, &@$));
          $$->elem = $3;
      }
  | type '[' const_expr ']'
      {
          CHECK($$ = idlc__type_new(ps, IDLC_TYPE_ARRAY, &@$));
          $$->elem = $1;
          $$->size_expr = $3;
      }
  ;

scoped_name:
    IDENT                 { $$ = $1; }
  | IDENT '.' IDENT       { CHECK($$ = idlc_sprintf(ps->ctx, "%s.%s", $1, $3)); }
  ;

const_expr:
    INT
      {
          NEW($$);
          $$->kind = IDLC_EXPR_INT;
          $$->loc = LOC(@1);
          $$->int_lit = $1;
      }
  | STRING
      {
          NEW($$);
          $$->kind = IDLC_EXPR_STRING;
          $$->loc = LOC(@1);
          $$->str = $1;
          $$->str_len = strlen($1);
      }
  | scoped_name
      {
          NEW($$);
          $$->kind = IDLC_EXPR_REF;
          $$->loc = LOC(@1);
          $$->name = $1;
      }
  | '-' const_expr
      {
          NEW($$);
          $$->kind = IDLC_EXPR_NEG;
          $$->loc = LOC(@$);
          $$->operand = $2;
      }
  ;

%%
