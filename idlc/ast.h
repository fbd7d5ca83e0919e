/* The idlc syntax tree.
 *
 * The parser builds these nodes; idlc_check() then resolves every name and
 * fills in the "resolved" fields (marked below), so a code generator never
 * looks a name up itself. All nodes, strings and lists live in the context's
 * arena and are freed by idlc_ctx_destroy(); nothing here is freed on its own.
 *
 * Lists are singly linked through `next`, in source order, with a count
 * beside the head. Every node carries the location of its name (or of its
 * first token when it has no name), so a diagnostic can point at it. Every
 * declaration and member carries the doc comment (`///` or `/ ** * /`) that
 * immediately preceded it, or NULL. */
#ifndef IDLC_AST_H
#define IDLC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A source range. file is the path as given on the command line (or as found
 * through the import search), never absolutized. line and col are 1-based;
 * col counts bytes. end_line/end_col is the last byte of the token or
 * construct (inclusive), so a one-character token has col == end_col. */
typedef struct idlc_loc {
    const char *file;
    int line;
    int col;
    int end_line;
    int end_col;
} idlc_loc;

struct idlc_decl;
struct idlc_file;
struct idlc_enumerator;

/* ------------------------------------------------------------------ */
/* Constant expressions (literals and references to constants).        */

typedef enum idlc_expr_kind {
    IDLC_EXPR_INT,    /* integer literal (decimal or 0x hex) */
    IDLC_EXPR_STRING, /* "string" literal, escapes already decoded */
    IDLC_EXPR_REF,    /* a constant's name, possibly module-qualified */
    IDLC_EXPR_NEG     /* unary minus applied to `operand` */
} idlc_expr_kind;

/* The value of an integer or string constant. Integers are kept as a sign
 * and a magnitude so the whole range of both i64 and u64 is exact. */
typedef enum idlc_value_kind {
    IDLC_VAL_NONE = 0, /* not evaluated (an error was reported) */
    IDLC_VAL_INT,
    IDLC_VAL_STRING
} idlc_value_kind;

typedef struct idlc_value {
    idlc_value_kind kind;
    bool negative;      /* IDLC_VAL_INT: true when the value is < 0 */
    uint64_t magnitude; /* IDLC_VAL_INT: absolute value */
    const char *str;    /* IDLC_VAL_STRING: NUL-terminated (may contain no NUL) */
    size_t str_len;     /* IDLC_VAL_STRING: length in bytes */
} idlc_value;

typedef struct idlc_expr {
    idlc_expr_kind kind;
    idlc_loc loc;
    uint64_t int_lit;              /* IDLC_EXPR_INT: the literal's magnitude */
    const char *str;               /* IDLC_EXPR_STRING: decoded text */
    size_t str_len;                /* IDLC_EXPR_STRING */
    const char *name;              /* IDLC_EXPR_REF: as written ("N" or "mod.N") */
    struct idlc_expr *operand;     /* IDLC_EXPR_NEG */
    /* resolved */
    struct idlc_decl *ref;         /* IDLC_EXPR_REF: the constant */
    idlc_value value;              /* the evaluated value */
} idlc_expr;

/* ------------------------------------------------------------------ */
/* Type references.                                                    */

typedef enum idlc_type_kind {
    IDLC_TYPE_VOID,   /* only as a method's return type */
    IDLC_TYPE_BOOL,
    IDLC_TYPE_I8,
    IDLC_TYPE_I16,
    IDLC_TYPE_I32,
    IDLC_TYPE_I64,
    IDLC_TYPE_U8,
    IDLC_TYPE_U16,
    IDLC_TYPE_U32,
    IDLC_TYPE_U64,
    IDLC_TYPE_F32,
    IDLC_TYPE_F64,
    IDLC_TYPE_STRING,
    IDLC_TYPE_BYTES,
    IDLC_TYPE_ANY,      /* any msgpack value */
    IDLC_TYPE_SEQUENCE, /* sequence<elem> or sequence<elem, bound> */
    IDLC_TYPE_MAP,      /* map<key, elem> */
    IDLC_TYPE_OPTIONAL, /* optional<elem> */
    IDLC_TYPE_ARRAY,    /* elem[size], a fixed-length array */
    IDLC_TYPE_NAMED     /* a struct, union, enum or typedef, by name */
} idlc_type_kind;

typedef struct idlc_type {
    idlc_type_kind kind;
    idlc_loc loc;               /* the whole type as written */
    struct idlc_type *elem;     /* SEQUENCE, OPTIONAL, ARRAY: element; MAP: value */
    struct idlc_type *key;      /* MAP: key type */
    idlc_expr *size_expr;       /* ARRAY: size; SEQUENCE: bound or NULL */
    const char *name;           /* NAMED: as written ("Entry" or "common.Entry") */
    /* resolved */
    uint64_t size;              /* ARRAY: element count; SEQUENCE: bound, 0 = unbounded */
    struct idlc_decl *target;   /* NAMED: the declaration named (may be a typedef) */
} idlc_type;

/* ------------------------------------------------------------------ */
/* Attributes: `[name("x"), version(1.2), deprecated("why"), idempotent,
 * timeout(500)]`. The raw list is kept for diagnostics; idlc_check() copies
 * the valid ones into the idlc_attrs summary of the node they annotate. */

typedef enum idlc_attr_kind {
    IDLC_ATTR_UNKNOWN, /* reported as an error by idlc_check() */
    IDLC_ATTR_NAME,
    IDLC_ATTR_VERSION,
    IDLC_ATTR_DEPRECATED,
    IDLC_ATTR_IDEMPOTENT,
    IDLC_ATTR_TIMEOUT
} idlc_attr_kind;

typedef enum idlc_attr_arg_kind {
    IDLC_ARG_NONE,    /* no parentheses */
    IDLC_ARG_STRING,
    IDLC_ARG_INT,
    IDLC_ARG_VERSION, /* dotted number such as 1.0 (text kept in `text`) */
    IDLC_ARG_IDENT
} idlc_attr_arg_kind;

typedef struct idlc_attr {
    idlc_attr_kind kind;
    const char *name;       /* as written */
    idlc_loc loc;           /* of the name */
    idlc_attr_arg_kind arg_kind;
    const char *text;       /* STRING (decoded), VERSION, IDENT */
    size_t text_len;
    uint64_t num;           /* INT */
    idlc_loc arg_loc;
    struct idlc_attr *next;
} idlc_attr;

/* The checked meaning of a node's attributes. */
typedef struct idlc_attrs {
    const char *wire_name;   /* [name("...")]: methods and events; NULL if absent */
    bool has_version;        /* [version(M.m)]: interfaces */
    uint32_t version_major;
    uint32_t version_minor;
    bool deprecated;         /* [deprecated] or [deprecated("why")]: anywhere */
    const char *deprecated_reason; /* NULL when no reason was given */
    bool idempotent;         /* [idempotent]: methods */
    uint32_t timeout_ms;     /* [timeout(ms)]: methods; 0 = none given */
} idlc_attrs;

/* ------------------------------------------------------------------ */
/* Members.                                                            */

/* A struct field. */
typedef struct idlc_field {
    const char *name;
    idlc_loc loc;
    const char *doc;
    idlc_attr *attr_list;
    idlc_attrs attrs;
    idlc_type *type;
    struct idlc_field *next;
} idlc_field;

/* An enumerator. value is explicit (`= expr`) or previous + 1 (0 first). */
typedef struct idlc_enumerator {
    const char *name;
    idlc_loc loc;
    const char *doc;
    idlc_attr *attr_list;
    idlc_attrs attrs;
    idlc_expr *value_expr;          /* NULL when implicit */
    /* resolved */
    int64_t value;
    const char *c_name;             /* <module>_<Enum>_<NAME>, e.g. kv_Error_NOT_FOUND */
    struct idlc_decl *parent;       /* the enum */
    struct idlc_enumerator *next;
} idlc_enumerator;

/* One arm of a union: `case LABEL: Type name;`. */
typedef struct idlc_union_case {
    const char *label;              /* enumerator name as written */
    idlc_loc label_loc;
    const char *name;               /* the arm's field name */
    idlc_loc loc;                   /* of the field name */
    const char *doc;
    idlc_attr *attr_list;
    idlc_attrs attrs;
    idlc_type *type;
    /* resolved */
    idlc_enumerator *enumerator;    /* the discriminator value selecting this arm */
    struct idlc_union_case *next;
} idlc_union_case;

typedef enum idlc_param_dir {
    IDLC_DIR_IN,     /* default when no direction is written */
    IDLC_DIR_OUT,
    IDLC_DIR_INOUT
} idlc_param_dir;

typedef struct idlc_param {
    idlc_param_dir dir;
    bool dir_explicit;   /* the direction keyword was written */
    const char *name;
    idlc_loc loc;
    idlc_type *type;
    struct idlc_param *next;
} idlc_param;

/* A method or an event. Events are server-to-client notifications: no
 * return value (ret is void), only in-parameters, no raises. */
typedef struct idlc_method {
    bool is_event;
    bool oneway;                 /* methods only */
    const char *name;
    idlc_loc loc;
    const char *doc;
    idlc_attr *attr_list;
    idlc_attrs attrs;
    idlc_type *ret;              /* IDLC_TYPE_VOID for void and for events */
    idlc_param *params;
    size_t param_count;
    const char *raises_name;     /* as written, NULL if no raises clause */
    idlc_loc raises_loc;
    /* resolved */
    struct idlc_decl *raises;    /* the error enum, or NULL */
    struct idlc_decl *parent;    /* the interface */
    const char *c_name;          /* <module>_<Interface>_<name>, e.g. kv_Store_get */
    const char *wire_name;       /* [name("...")] or "<module>.<Interface>.<name>" */
    /* Canonical one-line signature with module-qualified type names, e.g.
     * "u64 put(in string key, in bytes value) raises (kv.Error)" or
     * "event changed(string key, u64 version)"; oneway methods start with
     * "oneway ". Used in the interface signature below. */
    const char *signature;
    size_t index;                /* position among the interface's methods (or events) */
    struct idlc_method *next;
} idlc_method;

/* ------------------------------------------------------------------ */
/* Declarations.                                                       */

typedef enum idlc_decl_kind {
    IDLC_DECL_CONST,
    IDLC_DECL_TYPEDEF,
    IDLC_DECL_ENUM,
    IDLC_DECL_STRUCT,
    IDLC_DECL_UNION,
    IDLC_DECL_INTERFACE
} idlc_decl_kind;

typedef struct idlc_decl {
    idlc_decl_kind kind;
    const char *name;
    idlc_loc loc;                /* of the name */
    const char *doc;
    idlc_attr *attr_list;
    idlc_attrs attrs;
    const char *module;          /* the module of the file that declares it */
    struct idlc_file *file;      /* the file that declares it */
    /* resolved */
    const char *c_name;          /* <module>_<Name>, e.g. kv_Entry */
    const char *qualified_name;  /* <module>.<Name>, e.g. kv.Entry */
    union {
        struct {
            idlc_type *type;     /* an integer type or string */
            idlc_expr *expr;     /* expr->value is the checked value */
        } constant;
        struct {
            idlc_type *type;
        } typedef_;
        struct {
            idlc_enumerator *items;
            size_t count;
        } enum_;
        struct {
            idlc_field *fields;
            size_t count;
        } struct_;
        struct {
            idlc_type *discriminator;     /* NAMED, resolves to an enum */
            idlc_union_case *cases;
            size_t count;
            /* resolved */
            struct idlc_decl *discriminator_enum;
        } union_;
        struct {
            idlc_method *methods;
            size_t method_count;
            idlc_method *events;
            size_t event_count;
            /* resolved: version from [version(M.m)], 1.0 when absent */
            uint32_t version_major;
            uint32_t version_minor;
            /* Canonical text of the interface's wire contract, one item per
             * line: "interface <qualified name>", then each method as
             * "method|oneway <wire name>(<dir> <type>, ...) -> <type>
             * [raises <enum>]" and each event as "event <wire name>(in
             * <type>, ...)", in declaration order, then the definition of
             * every struct, union and enum they reach, sorted by qualified
             * name ("struct kv.Entry { string; u64; }", "enum kv.Error { 1 2 }",
             * "union kv.V switch (kv.K) { case 1: string; }"). Typedefs are
             * expanded. Names that do not travel (parameters, fields,
             * enumerators) and the version are left out, so equal strings
             * mean wire-compatible interfaces. */
            const char *signature;
        } interface_;
    } u;
    struct idlc_decl *next;      /* next declaration in the same file */
} idlc_decl;

/* An `import "file.idl";` statement. */
typedef struct idlc_import {
    const char *path;            /* as written */
    idlc_loc loc;                /* of the string */
    struct idlc_file *file;      /* resolved: the file it names (NULL on error) */
    struct idlc_import *next;
} idlc_import;

/* One source file. Each file is read once, however often it is imported. */
typedef struct idlc_file {
    const char *path;            /* as given, or as found through -I */
    const char *stem;            /* file name without directory and ".idl": "kv" */
    const char *module;          /* from `module NAME;` (NULL if missing) */
    idlc_loc module_loc;
    const char *doc;             /* doc comment before `module` */
    bool is_main;                /* named on the command line (outputs are made for it) */
    idlc_import *imports;
    size_t import_count;
    idlc_decl *decls;            /* in source order */
    size_t decl_count;
    /* resolved: the same declarations (decl_count of them) in C definition
     * order: each comes after every declaration of this file that it needs
     * complete, i.e. what it holds by value (struct fields, union arms,
     * fixed arrays, typedef chains) and every enum and typedef it mentions
     * anywhere. Structs and unions mentioned only inside optional<>,
     * sequence<> or map<> may come later: forward-declare every struct and
     * union first. */
    idlc_decl **decl_order;
    const char *text;            /* the file's contents (NUL-terminated) */
    size_t text_len;
    struct idlc_file *next;      /* next file read, in reading order */
} idlc_file;

/* Follows typedefs: returns the first type in the chain that is not a NAMED
 * reference to a typedef. Safe on unresolved or cyclic chains (returns the
 * last type reached). */
const idlc_type *idlc_type_resolve(const idlc_type *type);

/* The declaration a type finally names after following typedefs (a struct,
 * union or enum), or NULL for built-in and constructed types. */
const idlc_decl *idlc_type_decl(const idlc_type *type);

/* The IDL spelling of a built-in kind ("u64", "string", "sequence", ...). */
const char *idlc_type_kind_name(idlc_type_kind kind);

/* True for the integer kinds i8..u64 (not bool). */
bool idlc_type_kind_is_integer(idlc_type_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* IDLC_AST_H */
