/*  store_format.h -- the on-disk format of nsxd's LevelDB database: every
    key, the bytes of its value, and what holds between them. The files of
    store/ build and parse keys only through the functions below.

    One LevelDB database per data directory, next to the file IDENTITY
    (store_identity.h) and LevelDB's own files. Format version 2 (issue
    15: KV values became records with versions); a format-1 database is
    upgraded when opened (below, "Upgrade"), never the other way.

    Keys
    ----
    Every key starts with one prefix byte, so that each kind of record is
    one contiguous range of LevelDB's bytewise key order: the log is read
    in index order by one iterator from "l", and a KV generation is one
    range that an iterator walks, a snapshot copies and a cleanup deletes.

        key                               value
        --------------------------------  ---------------------------------
        'v'                    (1 byte)   format version: ASCII "2" (1 byte)
        'h'                    (1 byte)   hard state (Figure 3.1's
                                          currentTerm and votedFor): msgpack
                                          [term: uint, vote: uint], each in
                                          its shortest form (3 to 19 bytes;
                                          msg_hs_encode, msg/msg_raft.h);
                                          vote 0 = none
        'a'                    (1 byte)   applied index, then the term of
                                          the entry there: be64 each
                                          (16 bytes). 8 bytes (the index
                                          alone): written before the term
                                          was kept; term unknown
        'c'                    (1 byte)   the configuration in effect at
                                          the applied index: the last CONF
                                          entry applied, at its own index
                                          and term, or an installed
                                          snapshot's configuration at the
                                          snapshot's (msg_entry_encode)
        'b'                    (1 byte)   the log's base after compaction
                                          (chapter 5): a CONF entry
                                          (msg_entry_encode) at the base's
                                          index and term, holding the
                                          configuration there
        'l' index              (9 bytes)  the log entry at index (>= 1,
                                          be64): msg_entry_encode bytes,
                                          whose own index is the key's
        'g'                    (1 byte)   the generation of the KV data:
                                          be64 (8 bytes); absent: 0
        'k' key          (1 + n bytes)    a KV record of generation 0:
                                          be64 create_index, be64
                                          mod_index, be64 version (24
                                          bytes, store/kvsm.h), then the
                                          value, raw bytes (may be empty)
        'K' gen key      (9 + n bytes)    the same in generation gen >= 1
                                          (gen: be64)

        's' id                 (9 bytes)  a client session (§6.3,
                                          store/kvsm_session.h), id be64
                                          (the log index of its register
                                          entry): msgpack [1, id, ttl_ms,
                                          last_ms, acked, [[seq, index,
                                          reply], ...]] (msg/msg_kv_session.h)
        'S'                    (1 byte)   the session table's clock: be64
                                          ms, the max leader stamp applied;
                                          absent: 0
                                          (both: store/store_session.h)
        'e' id                 (9 bytes)  a lease (store/kvsm_lease.h),
                                          id be64 (the log index of its
                                          LGRANT): msgpack [1, id, ttl_ms,
                                          [key: bin, ...]], the attached
                                          keys sorted (msg/msg_kv_lease.h;
                                          store/store_lease.h)

        0x00, 0xff             (1 byte)   never present: store_compact_all
                                          puts and deletes both in one
                                          batch, so that the table LevelDB
                                          flushes spans every key (store.c)

    be64: an unsigned 64-bit integer, big-endian (most significant byte
    first), so that LevelDB's bytewise order is numeric order. A KV key is
    arbitrary bytes, NUL included, 0 to n bytes: the prefix (and the
    generation) is the only framing needed, because the KV key is the rest
    of the LevelDB key; for the same reason the prefixes of different
    generations never collide ('k' vs 'K' + 8 bytes). Every prefix byte is
    used by one kind of record only, so a single-byte key never falls in a
    range (the empty KV key of generation 0 is "k", inside its range).

    The msgpack values are msg/'s encodings (msg_raft.h), decoded there
    with msgpack-c behind msg_unpack_one's size guard: bytes read from disk
    are checked as if they came from the network.

    KV records: a fixed 24-byte header rather than varints. It costs up
    to 21 bytes a key more than varints would, but a record is read at
    fixed offsets with no decoder (the HTTP workers parse it on every
    GET), a damaged header is a length check, and the log entry that
    carried the value is bigger anyway. {0, 0, 0}: history unknown (a
    version-1 command's write, or an upgraded format-1 value: kvsm.h).

    Upgrade (format 1 -> 2)
    -----------------------
    Format 1 stored the value alone under 'k'/'K'. Opening a format-1
    database (store_load) rewrites every KV value of the current
    generation as a record with header {0, 0, 0} and stamps 'v' = "2", in
    one synced batch (so a crash leaves format 1 or 2, never a mix). Other
    generations are not converted: a staged snapshot (g + 1) is cleared
    before any new transfer, and lower ones are garbage. This is
    deterministic across replicas upgraded at different applied
    indexes: it gives exactly what applying their entries with the
    version-1 commands they hold gives ({0, 0, 0} for every key they
    wrote). A format-1 build refuses a format-2 database ("unknown
    storage format version (expected 1)"): the upgrade is one-way.

    Invariants
    ----------
    store_load checks (1) to (4) at every start and refuses a database that
    breaks one; the others are the writers' (actors/storage.c).

    (1) 'v' exists exactly when store_create stamped the database; a
        database without it must be empty, or it is not nsxd's.
    (2) The log is contiguous: the 'l' keys are exactly base + 1 .. last
        (base: the index in 'b', 0 if absent), each entry stored under its
        own index.
    (3) base <= applied <= last, where last is the last 'l' index, or the
        base when there is none: whatever was applied is in the base or
        the log, and only applied entries are compacted away.
    (4) 'h', 'a', 'g', 'c' and 'b' decode, when present; 'c' and 'b' are
        CONF entries, 'b' at an index >= 1.
    (5) The KV data is generation g ('g'). Keys of any other generation are
        never read: g + 1 is a snapshot being received (staged), lower ones
        are garbage left from before a switch, for store_delete_gen.
    (6) The KV data, 'a' and 'c' change together: an apply's KV changes,
        its applied index and term and (for a CONF entry) its
        configuration go in one batch; so does the switch to a received
        snapshot: its last pairs in g + 1, 'g' = g + 1, 'a', 'c', 'b', and
        the deletion of the log entries it covers, atomically, so that a
        crash leaves the old state or the new one.
    (7) A compaction writes 'b' and deletes the entries up to it in one
        batch.
    (8) 's' and 'S' are the session table at the applied index: an apply
        writes the sessions its entry touched and the clock in the batch
        of its KV changes and 'a'; the switch to a received snapshot
        replaces every 's' key and 'S' with the snapshot's table in the
        same batch as (6). They are outside the KV generations: the table
        is small (at most 4096 sessions of 64 replies) and arrives whole
        in a snapshot's first chunk, so it is not staged. The format
        version stays 2: a database without them has no sessions.
    (9) The 'e' keys are the lease table at the applied index, each
        lease's keys exactly the KV keys attached to it (each present in
        the KV data, none in two leases): an apply writes every lease its
        entry touched (granted, keys attached or detached) and deletes
        every lease it revoked, in the batch of its KV changes (a revoke's
        deletes included) and 'a'; the switch to a received snapshot
        replaces every 'e' key with the snapshot's table in the same
        batch as (6). Outside the KV generations and not staged, as (8)
        (at most 4096 leases, 16384 keys). The format version stays 2: a
        database without them has no leases.

    Durable in order
    ----------------
    LevelDB makes each batch atomic, but (1.23) closes a write-ahead log
    file without fsync when it switches memtables, so "a later synced
    write makes earlier unsynced ones durable" holds only within one file.
    (3) and (6) after a power cut therefore rest on the storage actor's
    rule ("Durable in order" in actors/storage.c): no write is synced
    unless every apply before it is in it or durable already. In terms of
    keys:
    - 'l' and 'h' are always written with sync (Raft's persistence rule,
      §3.8: durable before the answer that depends on them);
    - a batch of 'k'/'K' changes with 'a' and 'c' alone may go without
      sync, and is written again in front of the next synced batch, so
      that 'a' never gets ahead of the data, nor 'b' ahead of a durable
      'a', whatever LevelDB lost;
    - 'a' never passes the durable log: the core hands out an entry to
      apply only once it is durable locally;
    - the deletes that clear generation g + 1 before a new transfer are
      synced (a stale staged key must not survive under synced chunks
      that follow); the deletes of old generations are not (losing them
      leaves unread keys, never wrong data).
*/
#ifndef STORE_FORMAT_H_INCLUDED
#define STORE_FORMAT_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STORE_FORMAT_VERSION "2"
#define STORE_FORMAT_VERSION_1 "1" /* upgraded when opened */

#define STORE_KEY_VERSION 'v'
#define STORE_KEY_HS 'h'
#define STORE_KEY_APPLIED 'a'
#define STORE_KEY_CONF 'c'
#define STORE_KEY_BASE 'b'
#define STORE_KEY_LOG 'l'
#define STORE_KEY_GEN 'g'
#define STORE_KEY_KV 'k'
#define STORE_KEY_KV_GEN 'K'
#define STORE_KEY_COMPACT_LO 0x00
#define STORE_KEY_COMPACT_HI 0xff

#define STORE_LOG_KEY_LEN 9    /* 'l' + be64 index */
#define STORE_GEN_PREFIX_MAX 9 /* 'K' + be64 generation */
#define STORE_APPLIED_LEN 16   /* be64 index, be64 term */
#define STORE_APPLIED_LEN_V0 8 /* be64 index: an older database */
#define STORE_GEN_LEN 8        /* be64 generation */
#define STORE_REC_HEADER 24    /* be64 create, mod, version */

static inline void
store_be64_put (char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static inline uint64_t
store_be64_get (const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)p[i];
    return v;
}

/* The key of the log entry at index. */
static inline void
store_log_key (char key[STORE_LOG_KEY_LEN], raft_index_t index)
{
    key[0] = STORE_KEY_LOG;
    store_be64_put (key + 1, index);
}

/* Is key a log key? Then *index is its index (0 is malformed: false). */
static inline bool
store_log_key_parse (const char *key, size_t len, raft_index_t *index)
{
    if (len != STORE_LOG_KEY_LEN || key[0] != STORE_KEY_LOG)
        return false;
    *index = store_be64_get (key + 1);
    return *index != 0;
}

/* The prefix every KV key of generation gen starts with; its length (1
   or 9). */
static inline size_t
store_gen_prefix (char p[STORE_GEN_PREFIX_MAX], uint64_t gen)
{
    if (gen == 0) {
        p[0] = STORE_KEY_KV;
        return 1;
    }
    p[0] = STORE_KEY_KV_GEN;
    store_be64_put (p + 1, gen);
    return 9;
}

/* Length of the LevelDB key of a key_len-byte KV key in generation gen. */
static inline size_t
store_kv_key_len (uint64_t gen, size_t key_len)
{
    return (gen == 0 ? 1 : 9) + key_len;
}

/* Write that LevelDB key to out (store_kv_key_len bytes); its length. */
static inline size_t
store_kv_key_build (char *out, uint64_t gen, const void *key, size_t key_len)
{
    size_t plen = store_gen_prefix (out, gen);
    if (key_len)
        memcpy (out + plen, key, key_len);
    return plen + key_len;
}

/* Is key (len bytes) a KV key of the generation whose prefix is p (plen
   bytes)? Then *kv and *kv_len are the KV key within it. */
static inline bool
store_kv_key_parse (const char *key, size_t len, const char *p, size_t plen,
                    const char **kv, size_t *kv_len)
{
    if (len < plen || memcmp (key, p, plen) != 0)
        return false;
    *kv = key + plen;
    *kv_len = len - plen;
    return true;
}

/* The value of 'a'. */
static inline void
store_applied_value (char v[STORE_APPLIED_LEN], raft_index_t index,
                     raft_term_t term)
{
    store_be64_put (v, index);
    store_be64_put (v + 8, term);
}

/* Parse the value of 'a': false if malformed; *term 0 for an older
   database's 8-byte value. */
static inline bool
store_applied_parse (const char *v, size_t len, raft_index_t *index,
                     raft_term_t *term)
{
    if (len != STORE_APPLIED_LEN && len != STORE_APPLIED_LEN_V0)
        return false;
    *index = store_be64_get (v);
    *term = len == STORE_APPLIED_LEN ? store_be64_get (v + 8) : 0;
    return true;
}

/* The value of 'g'. */
static inline void
store_gen_value (char v[STORE_GEN_LEN], uint64_t gen)
{
    store_be64_put (v, gen);
}

/* Parse the value of 'g': false if malformed. */
static inline bool
store_gen_parse (const char *v, size_t len, uint64_t *gen)
{
    if (len != STORE_GEN_LEN)
        return false;
    *gen = store_be64_get (v);
    return true;
}

/* The header of a KV record (the value follows it). */
static inline void
store_rec_header (char h[STORE_REC_HEADER], uint64_t create_index,
                  uint64_t mod_index, uint64_t version)
{
    store_be64_put (h, create_index);
    store_be64_put (h + 8, mod_index);
    store_be64_put (h + 16, version);
}

/* Parse a KV record (len bytes): false if shorter than its header (a
   damaged record); else the metadata and *value (inside v, *value_len
   bytes). */
static inline bool
store_rec_parse (const char *v, size_t len, uint64_t *create_index,
                 uint64_t *mod_index, uint64_t *version, const char **value,
                 size_t *value_len)
{
    if (len < STORE_REC_HEADER)
        return false;
    *create_index = store_be64_get (v);
    *mod_index = store_be64_get (v + 8);
    *version = store_be64_get (v + 16);
    *value = v + STORE_REC_HEADER;
    *value_len = len - STORE_REC_HEADER;
    return true;
}

#endif
