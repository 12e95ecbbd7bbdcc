/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in WgmBackend for mesh tests that need neither root nor
 * wireguard-go: it records every transaction the mesh applies and answers
 * polls with statistics the test scripts.  Operations complete from an idle
 * source, as a real backend's would from the main loop.
 */
#pragma once

#include "wgm-backend.h"
#include "wgm-mesh.h"

#define FAKE_TYPE_BACKEND (fake_backend_get_type())
G_DECLARE_FINAL_TYPE(FakeBackend, fake_backend, FAKE, BACKEND, WgmBackend)

/* One peer entry of a recorded transaction (no secrets kept). */
typedef struct {
    WgmKey      public_key;
    gboolean    remove;
    gboolean    kick;
    gboolean    has_endpoint;
    WgmEndpoint endpoint;
    guint       n_allowed_ips;
} FakeEntry;

typedef struct {
    gboolean replace_peers;
    gint32   listen_port;
    GArray  *entries; /* of FakeEntry */
} FakeTransaction;

FakeBackend *fake_backend_new(void);

/* Every transaction applied so far (of FakeTransaction*), oldest first. */
GPtrArray *fake_backend_get_transactions(FakeBackend *self);
void       fake_backend_clear_transactions(FakeBackend *self);
/* How often start/get_stats were called. */
guint fake_backend_get_n_starts(FakeBackend *self);
guint fake_backend_get_n_polls(FakeBackend *self);

/* What the next polls report for @key (handshake realtime usec, counters);
 * peers never set are reported with zeros. */
void fake_backend_set_peer(FakeBackend  *self,
                           const WgmKey *key,
                           gint64        last_handshake,
                           guint64       rx,
                           guint64       tx);
/* The next @n applies fail. */
void fake_backend_fail_applies(FakeBackend *self, guint n);
/* Applies are recorded but answered only at release (in the order made). */
void fake_backend_hold_applies(FakeBackend *self);
void fake_backend_release_applies(FakeBackend *self);
/* The next @n starts fail. */
void fake_backend_fail_starts(FakeBackend *self, guint n);
/* The process "crashes": pending work fails, "died" is emitted. */
void fake_backend_die(FakeBackend *self, const char *why);

/* Counts entries of @t for @key: kicks, removes. */
guint fake_transaction_count(const FakeTransaction *t,
                             const WgmKey          *key,
                             gboolean               remove,
                             gboolean               kick);

/* ---- a fake clock for wgm_mesh_set_clock() ------------------------------ */

#define FAKE_MONO0 ((gint64)1000 * G_USEC_PER_SEC)       /* monotonic at "start" */
#define FAKE_REAL0 ((gint64)1700000000 * G_USEC_PER_SEC) /* realtime at "start" */

/* A WgmMeshClock reading *@mono; realtime follows it from FAKE_REAL0. */
WgmMeshClock fake_clock(gint64 *mono);
gint64       fake_clock_real(const gint64 *mono);

/* A vpn setting with the service type, a private key and an address: add
 * peers to it and parse it with wgm_config_new_from_setting(). */
NMSettingVpn *fake_vpn_setting_new(void);

/* Dispatches whatever is pending on the default main context. */
void fake_iterate(void);

/* A distinct made-up public key for peer @i. */
void fake_peer_key(guint i, WgmKey *key);

/* Runs @mesh's scheduler on the fake clock *@mono up to @end, deadline by
 * deadline, letting the fake backend answer (the default main context) in
 * between. */
void fake_run_until(WgmMesh *mesh, gint64 *mono, gint64 end);
