/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "bench-util.h"

#include <stdio.h>
#include <sys/stat.h>

#include "wgm-test-util.h"

void
bench_add(GArray *a, double v)
{
    g_array_append_val(a, v);
}

static int
cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double
bench_quantile(GArray *a, double q)
{
    g_autoptr(GArray) s = NULL;
    double pos;
    guint  lo;

    if (!a->len)
        return 0;
    s   = g_array_copy(a);
    pos = q * (a->len - 1);
    lo  = (guint)pos;
    g_array_sort(s, cmp_double);
    return (g_array_index(s, double, lo) + g_array_index(s, double, pos > lo ? lo + 1 : lo)) / 2;
}

double
bench_mean(GArray *a)
{
    double sum = 0;

    for (guint i = 0; i < a->len; i++)
        sum += g_array_index(a, double, i);
    return a->len ? sum / a->len : 0;
}

void
bench_fail(WgmTestHarness *h, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *log = h->service ? wgm_test_service_get_log(h->service) : NULL;
    va_list          ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: FAILED: %s\n", g_get_prgname() ?: "bench", msg);
    if (log) {
        gsize len = strlen(log);

        fprintf(
            stderr, "--- end of the service log ---\n%s\n", log + (len > 6000 ? len - 6000 : 0));
    }
}

gboolean
bench_harness_start(WgmTestHarness *h, guint n_real, gboolean debug)
{
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) wrap      = NULL;

    h->net = wgm_test_net_new(n_real, &error);
    if (!h->net) {
        fprintf(stderr, "%s: %s\n", g_get_prgname() ?: "bench", error->message);
        return FALSE;
    }
    h->bus = wgm_test_bus_new(&error);
    if (!h->bus) {
        fprintf(stderr, "%s: %s\n", g_get_prgname() ?: "bench", error->message);
        return FALSE;
    }
    wrap = wgm_test_net_wrap_argv(h->net, wgm_test_net_get_svc_ns(h->net));
    wgm_test_harness_start_service(h, (const char *const *)wrap, WGM_TEST_BUS_NAME, debug);
    return TRUE;
}

GPid
bench_spawn_in_svc_ns(WgmTestHarness *h, const char *const *cmd)
{
    g_autoptr(GError) error   = NULL;
    g_auto(GStrv) wrap        = wgm_test_net_wrap_argv(h->net, wgm_test_net_get_svc_ns(h->net));
    g_autoptr(GStrvBuilder) s = g_strv_builder_new();
    g_auto(GStrv) argv        = NULL;
    GPid pid                  = 0;

    g_strv_builder_addv(s, (const char **)wrap);
    g_strv_builder_addv(s, (const char **)cmd);
    argv = g_strv_builder_end(s);
    if (!g_spawn_async(NULL,
                       argv,
                       NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                           | G_SPAWN_STDERR_TO_DEV_NULL,
                       wgm_test_child_setup_setsid,
                       NULL,
                       &pid,
                       &error)) {
        bench_fail(h, "starting %s: %s", cmd[0], error->message);
        return 0;
    }
    wgm_test_net_track_pgid(h->net, pid);
    return pid;
}

GPid
bench_wireguard_go_pid(WgmTestHarness *h)
{
    GPid             svc      = wgm_test_service_get_pid(h->service);
    g_autofree char *children = NULL;
    g_autofree char *path     = g_strdup_printf("/proc/%d/task/%d/children", svc, svc);
    g_auto(GStrv) pids        = NULL;

    if (!g_file_get_contents(path, &children, NULL, NULL))
        return 0;
    pids = g_strsplit(g_strstrip(children), " ", -1);
    for (guint i = 0; pids[i]; i++) {
        GPid             pid  = (GPid)g_ascii_strtoll(pids[i], NULL, 10);
        g_autofree char *name = pid > 0 ? wgm_test_process_name(pid) : NULL;

        if (name && g_str_equal(name, "wireguard-go"))
            return pid;
    }
    return 0;
}

GArray *
bench_others_in_svc_ns(WgmTestHarness *h)
{
    g_autofree char *path =
        g_build_filename(WGM_TEST_NETNS_DIR, wgm_test_net_get_svc_ns(h->net), NULL);
    GArray     *pids = g_array_new(FALSE, FALSE, sizeof(GPid));
    GPid        svc  = wgm_test_service_get_pid(h->service);
    struct stat st;

    if (stat(path, &st) == 0) {
        g_autoptr(GArray) all = wgm_test_netns_pids(&st, 1);

        for (guint i = 0; i < all->len; i++) {
            if (g_array_index(all, GPid, i) != svc)
                g_array_append_val(pids, g_array_index(all, GPid, i));
        }
    }
    return pids;
}

gboolean
bench_tear_down(WgmTestHarness *h)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) left  = NULL;

    if (!wgm_test_vpn_disconnect(h->vpn, &error)) {
        bench_fail(h, "Disconnect: %s", error->message);
        return FALSE;
    }
    if (!wgm_test_vpn_wait_state(h->vpn, WGM_TEST_STATE_STOPPED, 10000)) {
        bench_fail(h, "no StateChanged(stopped) within 10 s of Disconnect");
        return FALSE;
    }
    for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;; wgm_test_iterate(100)) {
        g_clear_pointer(&left, g_array_unref);
        left = bench_others_in_svc_ns(h);
        if (!left->len)
            break;
        if (g_get_monotonic_time() > end) {
            for (guint i = 0; i < left->len; i++) {
                g_autofree char *name = wgm_test_process_name(g_array_index(left, GPid, i));

                fprintf(stderr,
                        "%s: still running: %d %s\n",
                        g_get_prgname() ?: "bench",
                        g_array_index(left, GPid, i),
                        name);
            }
            bench_fail(h, "10 s after Disconnect, the service left processes behind");
            return FALSE;
        }
    }
    if (!wgm_test_net_wait_link_gone(h->net, wgm_test_net_get_svc_ns(h->net), "wgm0", 5000)) {
        bench_fail(h, "wgm0 is still there 5 s after Disconnect");
        return FALSE;
    }
    return TRUE;
}
