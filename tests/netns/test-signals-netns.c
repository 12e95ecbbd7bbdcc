/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The D-Bus signal budget with a real mesh (root): 1,000 peers whose
 * endpoints never answer (a port on peer 1's host where nothing listens)
 * next to one real wireguard-go peer.  wireguard-go retransmits every
 * unanswered initiation every 5 s, so the unreachable peers' TxBytes move
 * all the time, and the guard retries each of them every 30-45 s once its
 * backoff is at the ceiling.  Neither may cost a signal per poll: at idle
 * the service stays within one PropertiesChanged per peer per minute
 * (counted with a match rule on the test bus), while Get, GetAll and
 * GetManagedObjects still read the counters fresh.
 */
#include "config.h"

#include "netns-mesh.h"
#include "wgm-test-util.h"

#define BUS_NAME     WGM_TEST_BUS_NAME
#define PROPS_IFACE  "org.freedesktop.DBus.Properties"
#define N_UNREACHED  1000
#define IDLE_SECONDS 30

typedef WgmTestHarness Fixture;

typedef struct {
    guint       n_signals;
    guint       n_statistics; /* of which carried a statistic */
    GHashTable *by_property;  /* name -> count, for the log */
} Count;

static const char *const statistics[] = {
    "RxBytes", "TxBytes", "LatestHandshake", "Attempts", "NextRetry",
};

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    wgm_test_mesh_harness_setup(f, 1);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_harness_clear(f);
}

static void
properties_changed_cb(GDBusConnection *connection,
                      const char      *sender,
                      const char      *path,
                      const char      *iface,
                      const char      *name,
                      GVariant        *params,
                      gpointer         user_data)
{
    Count *count                = user_data;
    g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
    gboolean     statistic      = FALSE;
    GVariantIter iter;
    const char  *prop;

    count->n_signals++;
    g_variant_iter_init(&iter, changed);
    while (g_variant_iter_next(&iter, "{&sv}", &prop, NULL)) {
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(count->by_property, prop));

        g_hash_table_insert(count->by_property, g_strdup(prop), GUINT_TO_POINTER(n + 1));
        statistic = statistic || g_strv_contains(statistics, prop);
    }
    count->n_statistics += statistic;
}

static char *
describe(GHashTable *by_property)
{
    GString       *s = g_string_new(NULL);
    GHashTableIter iter;
    gpointer       key, value;

    g_hash_table_iter_init(&iter, by_property);
    while (g_hash_table_iter_next(&iter, &key, &value))
        g_string_append_printf(
            s, "%s%s %u", s->len ? ", " : "", (char *)key, GPOINTER_TO_UINT(value));
    return g_string_free(s, FALSE);
}

/* The peers as GetManagedObjects shows them: how many unreachable ones
 * have sent something and been retried, by counters no signal carried. */
static void
check_fresh(Fixture *f, guint *n_sent, guint *n_retried)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(f->vpn, &error);
    const char    *real         = wgm_test_net_get_peer(f->net, 1)->public_key;
    GHashTableIter iter;
    gpointer       key, props;

    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(peers), ==, N_UNREACHED + 1);
    *n_sent = *n_retried = 0;
    g_hash_table_iter_init(&iter, peers);
    while (g_hash_table_iter_next(&iter, &key, &props)) {
        guint64 tx       = 0;
        guint32 attempts = 0;

        if (g_str_equal(key, real))
            continue;
        g_assert_true(g_variant_lookup(props, "TxBytes", "t", &tx));
        g_assert_true(g_variant_lookup(props, "Attempts", "u", &attempts));
        *n_sent += tx > 0;
        *n_retried += attempts > 1;
    }
}

static void
test_idle_budget(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autofree char *seen    = NULL;
    Count            count   = { 0 };
    GDBusConnection *bus;
    guint            id, n_sent, n_retried, budget;
    gint64           t0;

    if (!f->net)
        return; /* skipped */
    count.by_property = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    bus               = wgm_test_vpn_get_connection(f->vpn);
    /* Every PropertiesChanged of the service, any object, any interface. */
    id = g_dbus_connection_signal_subscribe(bus,
                                            BUS_NAME,
                                            PROPS_IFACE,
                                            "PropertiesChanged",
                                            NULL,
                                            NULL,
                                            G_DBUS_SIGNAL_FLAGS_NONE,
                                            properties_changed_cb,
                                            &count,
                                            NULL);

    conn = wgm_test_mesh_connection(f->net, N_UNREACHED);
    wgm_test_mesh_bring_up(f, conn, NULL);
    /* The real peer connects; the others keep trying. */
    g_assert_nonnull(wgm_test_vpn_wait_peer_state(
        f->vpn, wgm_test_net_get_peer(f->net, 1)->public_key, "connected", 15000));

    /* What start-up signalled (each peer's Endpoint, once) is not idle:
     * dispatch what has arrived by now.  The guard's fast first retries
     * are still ahead, within the count. */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    seen = describe(count.by_property);
    g_test_message("start-up (Connect until the real peer connected): %u PropertiesChanged: %s",
                   count.n_signals,
                   seen);
    g_clear_pointer(&seen, g_free);
    t0              = g_get_monotonic_time();
    count.n_signals = count.n_statistics = 0;
    g_hash_table_remove_all(count.by_property);
    wgm_test_iterate(IDLE_SECONDS * 1000);
    seen = describe(count.by_property);
    g_test_message("%u peers idle for %.1f s: %u PropertiesChanged (%u with statistics): %s",
                   N_UNREACHED + 1,
                   (g_get_monotonic_time() - t0) / 1e6,
                   count.n_signals,
                   count.n_statistics,
                   seen);

    /* One signal per peer per minute at most. */
    budget = (N_UNREACHED + 1) * IDLE_SECONDS / 60;
    g_assert_cmpuint(count.n_signals, <=, budget);
    /* StatisticsRefreshRateMs is 0: none carried a counter ... */
    g_assert_cmpuint(count.n_statistics, ==, 0);
    /* ... yet they are read fresh: initiations went out and were retried. */
    check_fresh(f, &n_sent, &n_retried);
    g_test_message("read back: %u of %u unreachable peers with TxBytes > 0, %u with Attempts > 1",
                   n_sent,
                   N_UNREACHED,
                   n_retried);
    g_assert_cmpuint(n_sent, >=, N_UNREACHED * 9 / 10);
    g_assert_cmpuint(n_retried, >=, N_UNREACHED * 9 / 10);

    g_dbus_connection_signal_unsubscribe(bus, id);
    g_hash_table_unref(count.by_property);
    wgm_test_mesh_tear_down_and_check(f);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

    g_test_add("/netns/signals/idle-budget-1000",
               Fixture,
               NULL,
               fixture_setup,
               test_idle_budget,
               fixture_teardown);
    return g_test_run();
}
