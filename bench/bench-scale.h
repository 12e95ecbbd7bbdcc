/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-scale's parts (bench-scale.c: the measurements; bench-scale-files.c:
 * the peers as wg(8), wg-quick and network-map files and as profiles).
 */
#pragma once

#include "wgm-test-nm.h"

#define CONN_PREFIX   WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define MESH_ADDRESS  "10.77.1.1/16"
#define MESH_PORT     "51821"
#define BARE_IF       "wgb0"
#define BARE_PORT     "51900"
#define QUICK_IF      "wgq0"
#define QUICK_PORT    "51901"
#define MAX_INLINE    1000
#define LOG_TIMEOUT_S 180
#define ONE_ROUNDS    3
/* "echo @t=<seconds since the epoch>" inside the sandbox. */
#define STAMP     "echo @t=$(date +%s.%N)\n"
#define STAMP_FMT "echo @t=$(date +%%s.%%N)\n"

typedef struct {
    WgmTestNm *nm;
    GPtrArray *keys;      /* peer 0 is the real one */
    GPtrArray *endpoints; /* the same order */
    GPtrArray *allowed;
    char      *maps_dir; /* <sandbox>/maps: the maps' directory, watched */
    char      *bus_name; /* the service of the active profile */
    char      *ifname;
} Bench;

void fail(Bench *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

char    *random_key(void);
void     append_peer(Bench *b, GString *s, guint i, const char *endpoint);
char    *wg_conf(Bench *b, guint size, gboolean quick);
char    *map_conf(Bench *b, guint size, guint edited, const char *endpoint);
gboolean write_file(Bench *b, const char *path, const char *text, int mode);
char    *sandbox_file(Bench *b, const char *name);
char    *real_peer_data(Bench *b);
gboolean add_profile(Bench *b, const char *name, const char *extra);
char    *inline_keyfile(Bench *b, const char *name, guint size);
