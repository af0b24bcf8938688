/*
 * addr.h - who is the client: the Forwarded / X-Forwarded-For chains a
 * trusted proxy appends to, and the key a client is counted under.
 *
 * Addresses and ranges are core/netaddr.h's. A client's key is its
 * address (IPv4-mapped forms unwrapped), except that IPv6 addresses are
 * grouped by /64: one subscriber usually owns a whole /64, so
 * per-address limits would be 2^64 separate budgets.
 *
 * Everything here is pure: no sockets, no clocks, no allocation.
 */
#ifndef PX_GUARD_ADDR_H
#define PX_GUARD_ADDR_H

#include "core/netaddr.h"

#define PX_MAX_TRUSTED 32

/* Parse one hop as proxies write it: "192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]", or either with a ":port" ("[v6]:port" for IPv6), of
 * n bytes; IPv4-mapped IPv6 is unwrapped. PX_EINVAL if it is none. */
int px_hop_parse(const char *s, size_t n, struct px_ip *out);

/* The client key of ip: ip itself for IPv4, its /64 for IPv6. */
void px_client_key(const struct px_ip *ip, struct px_ip *key);

/* The network a client key belongs to, for sharing the workers between
 * networks: its /24 for IPv4, its /48 for IPv6 (one site's allocation).
 * Rate limits stay per client key; only scheduling looks at this. */
void px_client_network(const struct px_ip *key, struct px_ip *net);

/* Text of a client key into out (at least 52 bytes): "192.0.2.1" or
 * "2001:db8:1:2::/64". */
void px_client_key_format(const struct px_ip *key, char *out, size_t n);

/* The key as 16 bytes (IPv4 mapped into ::ffff:0:0/96). */
void px_client_key_bytes(const struct px_ip *key, uint8_t out[16]);

/*
 * The client address of a request that arrived from peer. Unless peer
 * is in trusted, that is peer: headers from an untrusted peer are
 * ignored. Otherwise the hops of forwarded (the RFC 7239 header, which
 * wins when present) or xff (X-Forwarded-For) are walked from the right:
 * trusted hops are skipped and the first untrusted one is the client.
 * A hop that is not an address ("unknown", an obfuscated name, garbage,
 * an empty element) stops the walk: the client is then the last trusted
 * address seen, so a malformed chain never lets a client choose its
 * identity. Either header may be NULL; both may hold several
 * comma-joined header lines. Returns the number of hops read.
 */
int px_client_resolve(const struct px_ip *peer, const char *forwarded,
		      const char *xff, const struct px_cidr *trusted,
		      int ntrusted, struct px_ip *client);

#endif
