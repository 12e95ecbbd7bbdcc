/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the netns suites share: a mesh profile for the test network, and
 * bringing it up and down the way NetworkManager would.
 */
#pragma once

#include "wgm-test-bus.h"
#include "wgm-test-netns.h"
#include "wgm-test-vpn.h"

#define WGM_TEST_BUS_NAME      "org.freedesktop.NetworkManager.wgmesh"
#define WGM_TEST_STATE_STARTED 4
#define WGM_TEST_STATE_STOPPED 6

/* A network of @n_peers real peers, a private bus and the service in its
 * own namespace; skipped (harness left empty) where root tests cannot run. */
void wgm_test_mesh_harness_setup(WgmTestHarness *f, guint n_peers);
/* The same, the service started through @wrap_more (a command prefix,
 * e.g. setpriv to drop a capability) inside its namespace. */
void wgm_test_mesh_harness_setup_with(WgmTestHarness    *f,
                                      guint              n_peers,
                                      const char *const *wrap_more);

/* vpn.data for the mesh: the test network's peers first (peer @named_peer,
 * if not 0, with its endpoint given as @host_name), then @n_extra made-up
 * peers (random keys, endpoints where nothing listens) to reach a size. */
GVariant *wgm_test_mesh_connection_named(WgmTestNet *net,
                                         guint       n_extra,
                                         guint       named_peer,
                                         const char *host_name);
GVariant *wgm_test_mesh_connection(WgmTestNet *net, guint n_extra);
/* The same with the made-up peers' endpoints on @extra_host (as the
 * service's namespace sees it) instead of peer 1's host: e.g. 127.0.0.1,
 * where a port is unreachable at once whatever happens to the real links. */
GVariant *wgm_test_mesh_connection_extra_at(WgmTestNet *net, guint n_extra, const char *extra_host);

/* The same, with further vpn.data key/value pairs (@more, NULL-terminated),
 * e.g. "lazy-connections", "yes". */
GVariant *wgm_test_mesh_connection_with(WgmTestNet        *net,
                                        guint              n_extra,
                                        const char        *extra_host,
                                        const char *const *more);
/* Peer @named_peer's endpoint given as @host_name, and @more. */
GVariant *wgm_test_mesh_connection_named_with(WgmTestNet        *net,
                                              guint              named_peer,
                                              const char        *host_name,
                                              const char *const *more);

/* Connect, wait for Config and Ip4Config, apply them as NetworkManager does. */
void wgm_test_mesh_bring_up(WgmTestHarness *f, GVariant *connection, gint64 *out_config_usec);
/* Disconnect and check nothing is left (interface, process, socket, objects). */
void wgm_test_mesh_tear_down_and_check(WgmTestHarness *f);

/* A peer's u64 property from wgm_test_vpn_get_peers(). */
guint64 wgm_test_mesh_peer_u64(GHashTable *peers, const char *key, const char *prop);
