/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stand-in for libFuzzer's main() when the compiler has no -fsanitize=fuzzer:
 * runs every file named on the command line (or found in a directory named
 * there) through LLVMFuzzerTestOneInput() once, so the corpus still serves as
 * a regression test under gcc, valgrind or the sanitizers.
 */
#include <glib.h>

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static gboolean
run_file(const char *path, guint *count)
{
    g_autoptr(GError) error   = NULL;
    g_autofree char *contents = NULL;
    gsize            len;

    if (!g_file_get_contents(path, &contents, &len, &error)) {
        g_printerr("%s\n", error->message);
        return FALSE;
    }
    g_print("running %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
    LLVMFuzzerTestOneInput((const guint8 *)contents, len);
    (*count)++;
    return TRUE;
}

int
main(int argc, char **argv)
{
    guint count = 0;
    int   i;

    for (i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            g_autoptr(GError) error = NULL;
            g_autoptr(GDir) dir     = g_dir_open(argv[i], 0, &error);
            const char *name;

            if (!dir) {
                g_printerr("%s\n", error->message);
                return 1;
            }
            while ((name = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(argv[i], name, NULL);

                if (g_file_test(path, G_FILE_TEST_IS_REGULAR) && !run_file(path, &count))
                    return 1;
            }
        } else if (!run_file(argv[i], &count)) {
            return 1;
        }
    }
    g_print("%u inputs ran\n", count);
    return count > 0 ? 0 : 1;
}
