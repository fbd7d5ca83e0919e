/* Runs the parser fuzz target over files named on the command line, so the
 * seed corpus is exercised in every build (and under the sanitizers), not
 * only in libFuzzer builds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, len = 0;
        unsigned char *buf = malloc(cap);
        size_t n;
        while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
            len += n;
            if (len == cap) {
                unsigned char *nb = realloc(buf, cap * 2);
                if (!nb) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
        }
        fclose(f);
        if (!buf) {
            fputs("out of memory\n", stderr);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, len);
        /* Every prefix too: truncated input is the commonest malformed IDL. */
        for (size_t cut = 0; cut < len; cut += 1 + len / 64)
            LLVMFuzzerTestOneInput(buf, cut);
        free(buf);
    }
    return 0;
}
