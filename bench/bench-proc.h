/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What /proc says about a process under measurement: its file descriptors
 * (how many, and of which kind), its RSS, its CPU time.
 */
#pragma once

#include <glib.h>

guint bench_proc_count_fds(GPid pid);
/* @pid's file descriptors counted by kind: "udp socket",
 * "anon_inode:[eventfd]", "pipe", a path... (kind -> GUINT_TO_POINTER(n)) */
GHashTable *bench_proc_fd_kinds(GPid pid);
/* "+1 udp socket, -1 pipe": what @b has that @a has not, and the reverse. */
char *bench_proc_fd_kinds_diff(GHashTable *a, GHashTable *b);
/* VmRSS in KiB, 0 if it cannot be read. */
guint bench_proc_rss_kib(GPid pid);
/* VmHWM (the RSS's high-water mark) in KiB, 0 if it cannot be read. */
guint bench_proc_hwm_kib(GPid pid);
/* The parent of @pid, 0 if it cannot be read. */
GPid bench_proc_ppid(GPid pid);
/* utime + stime of every thread of @pid, in clock ticks; -1 if gone. */
gint64 bench_proc_cpu_ticks(GPid pid);
