/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the benchmarks share: statistics of samples, and the service under
 * test as the netns suite runs it (tests/netns/netns-mesh.h): its
 * processes, failing with the end of its log, taking the mesh down.
 */
#pragma once

#include "netns-mesh.h"

/* Samples are GArrays of double. */
void bench_add(GArray *a, double v);
/* Of @a: @q = 0 the minimum, 0.5 the median, 1 the maximum; 0 if empty. */
double bench_quantile(GArray *a, double q);
double bench_mean(GArray *a);

/* Says on stderr what did not work (prefixed with the program's name),
 * with the end of the service's log. */
void bench_fail(WgmTestHarness *h, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The test network with @n_real real peers, a private bus and the service
 * in its namespace (--debug if @debug); FALSE (having said why) if not. */
gboolean bench_harness_start(WgmTestHarness *h, guint n_real, gboolean debug);

/* Runs @cmd in the service's namespaces (its own /run), in a session and
 * process group of its own that the harness tracks (killed by PID at the
 * end, or by the watchdog); output dropped.  0 (having said why) if not. */
GPid bench_spawn_in_svc_ns(WgmTestHarness *h, const char *const *cmd);

/* The wireguard-go the service started (its child of that name), 0 if none. */
GPid bench_wireguard_go_pid(WgmTestHarness *h);
/* Processes in the service's namespace other than the service. */
GArray *bench_others_in_svc_ns(WgmTestHarness *h);
/* Disconnect as NetworkManager would, then check that the service left
 * nothing running in its namespace and no interface; FALSE (having said
 * why) if it did. */
gboolean bench_tear_down(WgmTestHarness *h);
