/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Drives nm-wgmesh-service the way NetworkManager does: the
 * org.freedesktop.NetworkManager.VPN.Plugin interface with a connection
 * serialised by libnm, and the signals it answers with.  Also reads the
 * mesh's own D-Bus objects.
 */
#pragma once

#include <NetworkManager.h>

#include "wgm-test-bus.h"
#include "wgm-test-netns.h"

typedef struct _WgmTestVpn WgmTestVpn;

WgmTestVpn *wgm_test_vpn_new(const char *bus_address, const char *bus_name);
void        wgm_test_vpn_free(WgmTestVpn *vpn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmTestVpn, wgm_test_vpn_free)

GDBusConnection *wgm_test_vpn_get_connection(WgmTestVpn *vpn);

/* A connection as NetworkManager sends it (a{sa{sv}}), from NULL-terminated
 * key, value, key, value... lists for vpn.data and vpn.secrets. */
GVariant *wgm_test_vpn_connection_new(const char        *id,
                                      const char *const *data,
                                      const char *const *secrets);

gboolean wgm_test_vpn_connect(WgmTestVpn *vpn, GVariant *connection, GError **error);
/* ConnectInteractive with empty details, as NetworkManager calls it when
 * every agent passes hints on; the service may answer with SecretsRequired
 * and continue in NewSecrets. */
gboolean wgm_test_vpn_connect_interactive(WgmTestVpn *vpn, GVariant *connection, GError **error);
gboolean wgm_test_vpn_new_secrets(WgmTestVpn *vpn, GVariant *connection, GError **error);
/* The connection.uuid of a connection from wgm_test_vpn_connection_new(). */
char *wgm_test_vpn_connection_get_uuid(GVariant *connection);
/* Returns the setting name NeedSecrets asks for ("" if none). */
char    *wgm_test_vpn_need_secrets(WgmTestVpn *vpn, GVariant *connection, GError **error);
gboolean wgm_test_vpn_disconnect(WgmTestVpn *vpn, GError **error);

/* Waits for the next (not yet consumed) VPN.Plugin signal @name ("Config",
 * "Ip4Config", "Ip6Config", "StateChanged", "Failure"); returns its
 * parameters, or NULL on timeout. */
GVariant *wgm_test_vpn_wait_signal(WgmTestVpn *vpn, const char *name, guint timeout_ms);
/* Waits until a StateChanged signal carries @state (NMVpnServiceState). */
gboolean wgm_test_vpn_wait_state(WgmTestVpn *vpn, guint state, guint timeout_ms);
/* Every @name signal received so far (parameters), consumed.  Peer property
 * changes are named "PropertiesChanged:<object path>". */
GPtrArray *wgm_test_vpn_take_signals(WgmTestVpn *vpn, const char *name);
/* Whether a @name signal has arrived (and is not consumed), after
 * dispatching whatever is pending. */
gboolean wgm_test_vpn_has_signal(WgmTestVpn *vpn, const char *name);

/* GetManagedObjects on the mesh's object manager: a{oa{sa{sv}}}. */
GVariant *wgm_test_vpn_get_managed_objects(WgmTestVpn *vpn, GError **error);
/* All properties (a{sv}) of the Mesh object. */
GVariant *wgm_test_vpn_get_mesh(WgmTestVpn *vpn, GError **error);
/* Peer property dicts (a{sv}), keyed by PublicKey. */
GHashTable *wgm_test_vpn_get_peers(WgmTestVpn *vpn, GError **error);
/* Waits until the peer @public_key (every peer if NULL) reports State ==
 * @state; returns the peers as in wgm_test_vpn_get_peers() at that moment,
 * NULL on timeout. */
GHashTable *wgm_test_vpn_wait_peer_state(WgmTestVpn *vpn,
                                         const char *public_key,
                                         const char *state,
                                         guint       timeout_ms);
/* Waits until every peer reports State == @state; FALSE on timeout. */
gboolean wgm_test_vpn_wait_peers_state(WgmTestVpn *vpn, const char *state, guint timeout_ms);

/* Iterates the default main context for @ms milliseconds. */
void wgm_test_iterate(guint ms);

/* The service under test as the dbus and netns suites hold it: on a private
 * bus, driven through a WgmTestVpn, in a test network for root tests. */
typedef struct {
    WgmTestNet     *net; /* root tests only; freed after the service in it */
    WgmTestBus     *bus;
    WgmTestService *service;
    WgmTestVpn     *vpn;
} WgmTestHarness;

/* Spawns the service on @harness->bus (behind @prefix_argv, owning
 * @bus_name) and a WgmTestVpn to drive it; asserts that it started. */
void wgm_test_harness_start_service(WgmTestHarness    *harness,
                                    const char *const *prefix_argv,
                                    const char        *bus_name,
                                    gboolean           debug);
/* Frees the driver, the service, the bus and the network, in that order. */
void wgm_test_harness_clear(WgmTestHarness *harness);
