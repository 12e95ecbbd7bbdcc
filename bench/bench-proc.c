/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "bench-proc.h"

#include <string.h>

guint
bench_proc_count_fds(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) dir   = g_dir_open(path, 0, NULL);
    guint n               = 0;

    while (dir && g_dir_read_name(dir))
        n++;
    return n;
}

/* Adds "<@kind> socket" for every socket inode in /proc/@pid/net/@table
 * (its inode in column @col; unix sockets with their path). */
static void
socket_inodes(GPid pid, const char *table, guint col, GHashTable *by_inode)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/net/%s", pid, table);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines   = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    lines = g_strsplit(text, "\n", -1);
    for (guint l = 1; lines[l]; l++) {
        g_auto(GStrv) f           = g_strsplit_set(g_strstrip(lines[l]), " ", -1);
        g_autoptr(GPtrArray) cols = g_ptr_array_new();

        for (guint k = 0; f[k]; k++) {
            if (*f[k])
                g_ptr_array_add(cols, f[k]);
        }
        if (cols->len <= col)
            continue;
        g_hash_table_insert(by_inode,
                            g_strdup(cols->pdata[col]),
                            cols->len > col + 1 && g_str_equal(table, "unix")
                                ? g_strdup_printf("unix socket %s", (char *)cols->pdata[col + 1])
                                : g_strdup_printf("%s socket", table));
    }
}

/* What @pid's file descriptors are, counted by kind: "udp socket",
 * "anon_inode:[eventfd]", "pipe", a path... */
GHashTable *
bench_proc_fd_kinds(GPid pid)
{
    static const struct {
        const char *table;
        guint       col;
    } tables[] = {
        { "tcp", 9 }, { "tcp6", 9 }, { "udp", 9 },  { "udp6", 9 },
        { "raw", 9 }, { "raw6", 9 }, { "unix", 6 }, { "netlink", 9 },
    };
    g_autoptr(GHashTable) by_inode = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *dir_path      = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) dir            = g_dir_open(dir_path, 0, NULL);
    GHashTable *kinds              = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *name;

    for (guint t = 0; t < G_N_ELEMENTS(tables); t++)
        socket_inodes(pid, tables[t].table, tables[t].col, by_inode);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *link   = g_build_filename(dir_path, name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);
        char            *kind;

        if (!target)
            continue;
        if (g_str_has_prefix(target, "socket:[")) {
            g_autofree char *inode = g_strndup(target + 8, strlen(target) - 9);
            const char      *known = g_hash_table_lookup(by_inode, inode);

            kind = g_strdup(known ? known : "socket");
        } else if (g_str_has_prefix(target, "pipe:[")) {
            kind = g_strdup("pipe");
        } else {
            kind = g_strdup(target);
        }
        g_hash_table_insert(
            kinds, kind, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(kinds, kind)) + 1));
    }
    return kinds;
}

/* "+1 udp socket, -1 pipe": what @b has that @a has not, and the reverse. */
char *
bench_proc_fd_kinds_diff(GHashTable *a, GHashTable *b)
{
    g_autoptr(GString) s = g_string_new(NULL);
    GHashTableIter iter;
    gpointer       key, value;

    g_hash_table_iter_init(&iter, b);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        gint d =
            (gint)GPOINTER_TO_UINT(value) - (gint)GPOINTER_TO_UINT(g_hash_table_lookup(a, key));

        if (d)
            g_string_append_printf(s, "%s%+d %s", s->len ? ", " : "", d, (char *)key);
    }
    g_hash_table_iter_init(&iter, a);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (!g_hash_table_contains(b, key))
            g_string_append_printf(
                s, "%s-%u %s", s->len ? ", " : "", GPOINTER_TO_UINT(value), (char *)key);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* A "Vm...:" line of /proc/@pid/status in KiB, 0 if it cannot be read. */
static guint
status_kib(GPid pid, const char *field)
{
    g_autofree char *path   = g_strdup_printf("/proc/%d/status", pid);
    g_autofree char *status = NULL;
    g_autofree char *needle = g_strdup_printf("\n%s:", field);
    const char      *line;

    if (!g_file_get_contents(path, &status, NULL, NULL) || !(line = strstr(status, needle)))
        return 0;
    return (guint)g_ascii_strtoull(line + strlen(needle), NULL, 10);
}

/* VmRSS in KiB, 0 if it cannot be read. */
guint
bench_proc_rss_kib(GPid pid)
{
    return status_kib(pid, "VmRSS");
}

guint
bench_proc_hwm_kib(GPid pid)
{
    return status_kib(pid, "VmHWM");
}

/* utime + stime of every thread of @pid, in clock ticks; -1 if gone. */
gint64
bench_proc_cpu_ticks(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
    g_autofree char *stat = NULL;
    g_auto(GStrv) fields  = NULL;
    const char *rest;

    if (!g_file_get_contents(path, &stat, NULL, NULL) || !(rest = strrchr(stat, ')')))
        return -1;
    /* From field 3 (state) on: utime and stime are fields 14 and 15. */
    fields = g_strsplit(rest + 2, " ", -1);
    if (g_strv_length(fields) < 13)
        return -1;
    return g_ascii_strtoll(fields[11], NULL, 10) + g_ascii_strtoll(fields[12], NULL, 10);
}

GPid
bench_proc_ppid(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
    g_autofree char *stat = NULL;
    const char      *rest;

    if (!g_file_get_contents(path, &stat, NULL, NULL) || !(rest = strrchr(stat, ')')))
        return 0;
    /* ") S PPID ..." */
    return (GPid)g_ascii_strtoll(rest + 4, NULL, 10);
}
