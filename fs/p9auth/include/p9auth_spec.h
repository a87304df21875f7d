/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The numbers and names docs/spec.md states, in one place for both
 * implementations: the kernel module (C, kernel style) and the C++ core,
 * p9grant, p9use's mount check, the conformance suite and the smoke test.
 * Plain C preprocessor only, no includes: it builds in the kernel, in
 * user-space C and in C++.  tests/unit/spec_test.cpp reads docs/spec.md
 * and checks every number below that the spec states against these
 * definitions, so the text and the code cannot drift apart.
 */
#ifndef P9AUTH_SPEC_H
#define P9AUTH_SPEC_H

/* Section 1: the capability text. */
#define P9AUTH_MAX_CAPABILITY	16384	/* bytes, without the trailing newline */
#define P9AUTH_MAX_GROUPS	1024	/* supplementary groups in TO */
#define P9AUTH_MIN_KEY		22	/* base64url characters carrying 128 bits */
#define P9AUTH_MAX_KEY		256
#define P9AUTH_MAX_ID		4294967294U	/* (uid_t)-1 means "unchanged" */
#define P9AUTH_KEY_BYTES	32	/* random bytes in a key this project makes */
#define P9AUTH_KEY_CHARS	43	/* ... as unpadded base64url */

/* Section 2: the hash. */
#define P9AUTH_HASH_SHA256	32	/* bytes of HMAC-SHA256 */
#define P9AUTH_HASH_SHA1	20	/* bytes of HMAC-SHA1 (legacy_sha1) */

/* Section 3: the files and their modes. */
#define P9AUTH_FILE_CAPHASH	"caphash"
#define P9AUTH_FILE_CAPUSE	"capuse"
#define P9AUTH_FILE_STATUS	"status"
#define P9AUTH_MODE_CAPHASH	0200
#define P9AUTH_MODE_CAPUSE	0222
#define P9AUTH_MODE_STATUS	0444
#define P9AUTH_MODE_ROOT	0555

/*
 * Section 4: most pages a capuse write's buffers may span, each segment
 * counted on its own: the most one FUSE WRITE carries, so that FUSE mode,
 * where the kernel splits a larger write, and the module agree.
 */
#define P9AUTH_MAX_WRITE_PAGES	256

/* Section 6: mount options, their names and ranges. */
#define P9AUTH_OPT_TIMEOUT	"timeout"
#define P9AUTH_OPT_MAXCAPS	"maxcaps"
#define P9AUTH_OPT_GRANT_UID	"grant_uid"
#define P9AUTH_OPT_GRANT_GID	"grant_gid"
#define P9AUTH_OPT_GRANT_ONCE	"grant_once"
#define P9AUTH_OPT_LEGACY_SHA1	"legacy_sha1"
#define P9AUTH_MIN_TIMEOUT	1U	/* seconds */
#define P9AUTH_DEFAULT_TIMEOUT	120U
#define P9AUTH_MAX_TIMEOUT	86400U
#define P9AUTH_MIN_MAXCAPS	1U
#define P9AUTH_DEFAULT_MAXCAPS	16384U
#define P9AUTH_MAX_MAXCAPS	16777216U

/* Section 10: identifying the filesystem. */
#define P9AUTH_FS_TYPE		"p9auth"	/* the module's fstype */
#define P9AUTH_FUSE_SUBTYPE	"p9authfs"	/* FUSE: fstype fuse.p9authfs */
#define P9AUTH_SUPER_MAGIC	0x70396175	/* "p9au" */
#define P9AUTH_FUSE_SUPER_MAGIC	0x65735546	/* FUSE_SUPER_MAGIC */

#endif /* P9AUTH_SPEC_H */
