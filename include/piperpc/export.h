/* Symbol visibility for libpiperpc.
 *
 * The library is built with hidden visibility; only declarations marked
 * PRPC_API are exported. A static build, or a consumer that links the static
 * library, defines PRPC_STATIC so the macro expands to nothing. */
#ifndef PIPERPC_EXPORT_H
#define PIPERPC_EXPORT_H

#if defined(PRPC_STATIC)
#  define PRPC_API
#elif defined(_WIN32) || defined(__CYGWIN__)
#  if defined(PRPC_BUILDING)
#    define PRPC_API __declspec(dllexport)
#  else
#    define PRPC_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define PRPC_API __attribute__((visibility("default")))
#else
#  define PRPC_API
#endif

#ifdef __cplusplus
#  define PRPC_BEGIN_DECLS extern "C" {
#  define PRPC_END_DECLS }
#else
#  define PRPC_BEGIN_DECLS
#  define PRPC_END_DECLS
#endif

#endif /* PIPERPC_EXPORT_H */
