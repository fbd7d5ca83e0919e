/* Writing output files atomically: a temporary beside the target, flushed,
 * then renamed over it, so a reader (or a build interrupted halfway) never
 * sees a half-written file and a failure leaves the old file untouched. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"

idlc_result idlc_write_file_atomic(idlc_ctx *ctx, const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        idlc_error(ctx, NULL, "out of memory writing '%s'", path);
        return IDLC_ERR_IO;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
    int fd = mkstemp(tmp);
    if (fd < 0) {
        idlc_error(ctx, NULL, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return IDLC_ERR_IO;
    }
    /* mkstemp creates 0600; generated sources should be as readable as any
     * file the user's umask allows. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);

    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return IDLC_OK;

fail:;
    int err = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    idlc_error(ctx, NULL, "cannot write '%s': %s", path, strerror(err));
    free(tmp);
    return IDLC_ERR_IO;
}
