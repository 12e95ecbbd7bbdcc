/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How much one transaction saves: N peers given to a real wireguard-go in
 * one UAPI `set`, against the same N peers one `set` each (what a plugin
 * that adds peers one by one, or `wg set` in a loop, costs).  Both runs on
 * the same machine in the same process, so the ratio holds on a noisy
 * machine where absolute times do not.  Run through run-in-netns.sh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "wgm-backend-uapi.h"

typedef struct {
    GMainLoop *loop;
    gboolean   ok;
    GError    *error;
} Wait;

static void
started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Wait *w = user_data;

    w->ok = wgm_backend_start_finish(WGM_BACKEND(source), result, &w->error);
    g_main_loop_quit(w->loop);
}

static void
applied_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Wait *w = user_data;

    w->ok = wgm_backend_apply_finish(WGM_BACKEND(source), result, &w->error);
    g_main_loop_quit(w->loop);
}

static void
apply(WgmBackend *backend, WgmDeviceUpdate *update, Wait *w)
{
    wgm_backend_apply_async(backend, update, NULL, applied_cb, w);
    g_main_loop_run(w->loop);
    if (!w->ok) {
        fprintf(stderr, "bench-apply: %s\n", w->error->message);
        exit(1);
    }
}

static void
add_peer(WgmDeviceUpdate *update, const WgmKey *key, guint i)
{
    WgmPeerUpdate *pu = wgm_device_update_add_peer(update, key);
    WgmIpPrefix    p  = { .addr.family = AF_INET, .plen = 32 };

    p.addr.addr4      = g_htonl(0x0a000000u + i + 1); /* 10.0.0.0/8, inside the namespace only */
    pu->has_endpoint  = TRUE;
    pu->endpoint.addr = (WgmIpAddr){ .family = AF_INET, .addr4 = g_htonl(0x7f000001u) };
    pu->endpoint.port = (guint16)(20000 + i % 40000);
    pu->allowed_ips   = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
    pu->replace_allowed_ips = TRUE;
    g_array_append_val(pu->allowed_ips, p);
}

static WgmDeviceUpdate *
clear_update(void)
{
    WgmDeviceUpdate *update = wgm_device_update_new();

    update->replace_peers = TRUE;
    return update;
}

int
main(int argc, char *argv[])
{
    guint n                       = argc > 1 ? (guint)atoi(argv[1]) : 1000;
    g_autoptr(WgmBackend) backend = wgm_backend_uapi_new("wgmb0", NULL);
    g_autofree WgmKey *keys       = g_new(WgmKey, n);
    Wait               w          = { .loop = g_main_loop_new(NULL, FALSE) };
    gint64             t0, one, each;

    for (guint i = 0; i < n; i++)
        for (guint j = 0; j < WGM_KEY_LEN; j++)
            keys[i].bytes[j] = (guint8)g_random_int();

    wgm_backend_start_async(backend, NULL, started_cb, &w);
    g_main_loop_run(w.loop);
    if (!w.ok) {
        fprintf(stderr, "bench-apply: %s\n", w.error->message);
        return 1;
    }

    {
        g_autoptr(WgmDeviceUpdate) update = clear_update();

        for (guint i = 0; i < n; i++)
            add_peer(update, &keys[i], i);
        t0 = g_get_monotonic_time();
        apply(backend, update, &w);
        one = g_get_monotonic_time() - t0;
    }
    {
        g_autoptr(WgmDeviceUpdate) update = clear_update();

        apply(backend, update, &w);
    }
    t0 = g_get_monotonic_time();
    for (guint i = 0; i < n; i++) {
        g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();

        add_peer(update, &keys[i], i);
        apply(backend, update, &w);
    }
    each = g_get_monotonic_time() - t0;

    printf("apply %u peers to wireguard-go: one transaction %.1f ms, one per peer %.1f ms, "
           "ratio %.2fx\n",
           n,
           one / 1000.0,
           each / 1000.0,
           (double)each / (double)MAX(one, 1));

    wgm_backend_stop(backend);
    wgm_backend_wait_stopped(backend, 3000);
    g_main_loop_unref(w.loop);
    return 0;
}
