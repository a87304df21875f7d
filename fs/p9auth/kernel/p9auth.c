// SPDX-License-Identifier: GPL-2.0
/*
 * p9auth: Plan 9's capability device (#¤, devcap.c) as a Linux filesystem.
 *
 *	caphash	the granter writes HMAC(KEY, FROM@TO): a one-time capability
 *	capuse	a process running as FROM writes FROM@TO@KEY and becomes TO
 *	status	counters
 *
 * docs/spec.md in the p9authfs project is the one definition of what a
 * mount does; the section numbers below are its sections.  Every mount has
 * its own table and belongs to the user namespace it was mounted in: ids
 * are read there and the grant privilege is judged there.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <crypto/sha1.h>
#include <crypto/sha2.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/hashtable.h>
#ifndef P9AUTH_IN_TREE
#include <linux/kprobes.h>
#endif /* P9AUTH_IN_TREE */
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/rhashtable.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/siphash.h>
#include <linux/securebits.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#ifndef P9AUTH_IN_TREE
#include <linux/static_call.h>
#endif /* P9AUTH_IN_TREE */
#include <linux/string.h>
#include <linux/sysctl.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/user_namespace.h>
#include <linux/workqueue.h>

#include "p9auth_compat.h"
/* docs/spec.md's numbers and names: sizes, option ranges, the magic. */
#include "p9auth_spec.h"
static_assert(P9AUTH_HASH_SHA256 == SHA256_DIGEST_SIZE);
static_assert(P9AUTH_HASH_SHA1 == SHA1_DIGEST_SIZE);

/* A mount in any user namespace but the initial one: see p9auth_user. */
#define P9AUTH_USERNS_MAXCAPS	65536
#define P9AUTH_DEFAULT_USER_HASHES	65536

enum {
	P9AUTH_INO_ROOT = 1,
	P9AUTH_INO_CAPHASH,
	P9AUTH_INO_CAPUSE,
	P9AUTH_INO_STATUS,
};

struct p9auth_options {
	u32 timeout;		/* seconds */
	u32 maxcaps;
	kuid_t grant_uid;	/* INVALID_UID: not set */
	kgid_t grant_gid;	/* INVALID_GID: not set */
	bool grant_once;
	bool legacy_sha1;
	bool given;		/* any option was named (remount) */
	bool grant_named;	/* grant_uid= or grant_gid= was named */
};

/*
 * A table key: the hash's length, then the hash, zero-padded, so that a
 * SHA-1 hash never equals a SHA-256 one.
 */
#define P9AUTH_KEY_LEN	(1 + SHA256_DIGEST_SIZE)

/* One outstanding hash. */
struct p9auth_hash {
	struct rhash_head node;		/* in p9auth_mount.table */
	struct list_head age;		/* in p9auth_mount.by_age */
	u64 deadline;			/* boottime ns: dropped from then on */
	u8 key[P9AUTH_KEY_LEN];		/* p9auth_set_key() */
};

static void p9auth_set_key(u8 *key, const u8 *hash, unsigned int len)
{
	memset(key, 0, P9AUTH_KEY_LEN);
	key[0] = len;
	memcpy(key + 1, hash, len);
}

/*
 * The table is an rhashtable (it grows with the table, so a grant and a
 * use cost the same at 10 hashes and at 10 million).  Its bucket is
 * SipHash of the key under a random key of the module, mixed with the
 * table's own seed (which a rehash changes).  The granter writes the
 * hashes, so it could choose them (any 32 bytes are a valid grant): with a
 * bucket taken from the hash itself (rhashtable's default jhash is not
 * keyed) it could put every hash in one chain.  Without the key nobody
 * can aim at a bucket, and bucket timing tells a writer nothing about
 * stored hashes.  Keys are compared in constant time.
 */
static siphash_key_t p9auth_table_key __read_mostly;

static u32 p9auth_table_hash(const void *data, u32 len, u32 seed)
{
	siphash_key_t k = p9auth_table_key;

	k.key[0] ^= seed;
	return siphash(data, len, &k);
}

static int p9auth_table_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct p9auth_hash *h = obj;

	return crypto_memneq(arg->key, h->key, P9AUTH_KEY_LEN);
}

static const struct rhashtable_params p9auth_table_params = {
	.key_len		= P9AUTH_KEY_LEN,
	.key_offset		= offsetof(struct p9auth_hash, key),
	.head_offset		= offsetof(struct p9auth_hash, node),
	.hashfn			= p9auth_table_hash,
	.obj_cmpfn		= p9auth_table_cmp,
	.automatic_shrinking	= true,
};

/*
 * Expiry and unmount free at most this many hashes between two chances to
 * reschedule: a table holds up to P9AUTH_MAX_MAXCAPS of them.
 */
#define P9AUTH_FREE_BATCH	256

/*
 * Kernel memory an unprivileged user can pin (issue 12 item 2).  Anyone may
 * mount p9auth in a user namespace of her own (FS_USERNS_MOUNT), as many
 * times as she likes, and fill each table.  As inotify bounds watches, the
 * hashes of all mounts made in user namespaces are counted against one
 * user, and fs.p9auth.max_user_hashes bounds that count.  The user is the
 * owner of the namespace's ancestor just below the initial one: the uid
 * that created the outermost namespace, which a user cannot choose (an
 * inner namespace's owner can be any of her subordinate uids).  Mounts in
 * the initial namespace are the administrator's: bounded by maxcaps only.
 *
 * The kernel's own ucounts (inc_ucount()) would be the natural place, but
 * they are not exported to modules, and neither can a module add a
 * UCOUNT_ type: hence this small table of its own.
 */
struct p9auth_user {
	struct hlist_node node;		/* in p9auth_users */
	kuid_t uid;
	unsigned int mounts;		/* references; under p9auth_users_lock */
	atomic_t hashes;		/* outstanding in all of its mounts */
};

static DEFINE_SPINLOCK(p9auth_users_lock);
static DEFINE_HASHTABLE(p9auth_users, 6);
static unsigned int p9auth_max_user_hashes = P9AUTH_DEFAULT_USER_HASHES;
static atomic_long_t p9auth_hashes;	/* outstanding, all mounts: sysctl */

static kuid_t p9auth_charged_uid(struct user_namespace *ns)
{
	while (ns->parent != &init_user_ns)
		ns = ns->parent;
	return ns->owner;
}

/* NULL (and no error) for a mount in the initial namespace. */
static struct p9auth_user *p9auth_user_get(struct user_namespace *ns)
{
	struct p9auth_user *u, *fresh;
	kuid_t uid;

	if (ns == &init_user_ns)
		return NULL;
	uid = p9auth_charged_uid(ns);
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return ERR_PTR(-ENOMEM);
	spin_lock(&p9auth_users_lock);
	hash_for_each_possible(p9auth_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			goto found;
	u = fresh;
	fresh = NULL;
	u->uid = uid;
	hash_add(p9auth_users, &u->node, __kuid_val(uid));
found:
	u->mounts++;
	spin_unlock(&p9auth_users_lock);
	kfree(fresh);
	return u;
}

static void p9auth_user_put(struct p9auth_user *u)
{
	if (!u)
		return;
	spin_lock(&p9auth_users_lock);
	if (--u->mounts) {
		u = NULL;
	} else {
		hash_del(&u->node);
		WARN_ON_ONCE(atomic_read(&u->hashes));
	}
	spin_unlock(&p9auth_users_lock);
	kfree(u);
}

/* One more hash for u, unless that passes the limit. */
static bool p9auth_charge(struct p9auth_user *u)
{
	unsigned int limit = READ_ONCE(p9auth_max_user_hashes);
	int c;

	if (u) {
		c = atomic_read(&u->hashes);
		do {
			if ((unsigned int)c >= limit)
				return false;
		} while (!atomic_try_cmpxchg(&u->hashes, &c, c + 1));
	}
	atomic_long_inc(&p9auth_hashes);
	return true;
}

static void p9auth_uncharge(struct p9auth_user *u)
{
	if (u)
		atomic_dec(&u->hashes);
	atomic_long_dec(&p9auth_hashes);
}

/* One mount: s_fs_info. */
struct p9auth_mount {
	struct p9auth_options opt;	/* fixed at mount time */
	struct user_namespace *ns;	/* sb->s_user_ns; the sb holds the ref */
	unsigned long flags;		/* P9AUTH_OPENED, atomic bitops */
	struct p9auth_user *user;	/* charged for the hashes; NULL: none */
	/*
	 * Drops expired hashes when the oldest is due, so that their memory
	 * does not wait for someone to touch the mount.
	 */
	struct delayed_work reclaim;

	/*
	 * lock protects the table's contents (what is in table and by_age,
	 * outstanding) and the counters but refused.  Every lookup, insert
	 * and removal is made under it, so a hash found is still there when
	 * it is removed (one-time use) and a removed hash can be freed at once
	 * (no lookup runs beside it; rhashtable's own rehash reaches only
	 * what is still in a chain).  Credentials and allocations are
	 * prepared before it is taken; under it nothing sleeps but kfree, and
	 * p9auth_expire() dropping it between batches (cond_resched()).  opt
	 * and ns are set before the sb is live and never change: no lock.
	 */
	struct mutex lock;
	struct rhashtable table;	/* p9auth_table_params */
	struct list_head by_age;	/* grant order = expiry order: one timeout */
	u32 outstanding;
	u64 granted, used, expired;
	atomic64_t refused;		/* every refusal, without the lock */
};

#define P9AUTH_OPENED	0	/* grant_once: caphash has been opened */

static struct p9auth_mount *p9auth_mnt(const struct inode *inode)
{
	return inode->i_sb->s_fs_info;
}

/*
 * cap_capable() of security/commoncap.c on a given cred: security_capable()
 * is not exported to modules, and ns_capable() only asks about current.  The
 * capability rules without the LSMs: they are consulted where current is
 * asked (ns_capable()), not here (see p9auth.ko(8), BUGS).
 */
static bool p9auth_cred_capable(const struct cred *cred,
				struct user_namespace *ns, int cap)
{
	for (;;) {
		if (ns == cred->user_ns)
			return cap_raised(cred->cap_effective, cap);
		if (ns->level <= cred->user_ns->level)
			return false;
		/* The owner of a child namespace has every capability in it. */
		if (ns->parent == cred->user_ns && uid_eq(ns->owner, cred->euid))
			return true;
		ns = ns->parent;
	}
}

/* The table.  All of these are called with m->lock held. */

static void p9auth_drop(struct p9auth_mount *m, struct p9auth_hash *h)
{
	/* Cannot fail for an object that is in the table. */
	rhashtable_remove_fast(&m->table, &h->node, p9auth_table_params);
	list_del(&h->age);
	m->outstanding--;
	p9auth_uncharge(m->user);
	kfree_sensitive(h);	/* zeroes the hash */
}

/*
 * Expiry is lazy: every grant, use and status open drops what is due, all
 * of it, so the spec's "after expiry" holds exactly.  The oldest hash is
 * first in by_age.  At most P9AUTH_FREE_BATCH are freed per hold of the
 * lock: between batches m->lock is dropped and retaken, so callers must
 * call this first and keep nothing they looked at before across it.  It
 * ends: hashes granted meanwhile are not due.
 */
static void p9auth_expire(struct p9auth_mount *m)
{
	u64 now = ktime_get_boottime_ns();
	struct p9auth_hash *h;
	unsigned int n = 0;

	while ((h = list_first_entry_or_null(&m->by_age, struct p9auth_hash,
					     age)) && now >= h->deadline) {
		p9auth_drop(m, h);
		m->expired++;
		if (++n == P9AUTH_FREE_BATCH) {
			n = 0;
			mutex_unlock(&m->lock);
			cond_resched();
			mutex_lock(&m->lock);
		}
	}
}

/*
 * Arms the reclaim for when the oldest hash is due; called with m->lock
 * held after a grant and by the reclaim itself.  Whole seconds, rounded
 * up, so that a steady stream of grants wakes it about once a second; when
 * it is already pending (for an earlier hash) it runs early and re-arms.
 */
static void p9auth_arm_reclaim(struct p9auth_mount *m)
{
	struct p9auth_hash *h = list_first_entry_or_null(&m->by_age,
						struct p9auth_hash, age);
	u64 now = ktime_get_boottime_ns();
	unsigned long delay = 0;

	if (!h)
		return;
	if (h->deadline > now)
		delay = round_jiffies_up_relative(nsecs_to_jiffies(h->deadline - now) + 1);
	queue_delayed_work(system_unbound_wq, &m->reclaim, delay);
}

static void p9auth_reclaim(struct work_struct *work)
{
	struct p9auth_mount *m = container_of(to_delayed_work(work),
					      struct p9auth_mount, reclaim);

	mutex_lock(&m->lock);
	p9auth_expire(m);
	p9auth_arm_reclaim(m);
	mutex_unlock(&m->lock);
}

static struct p9auth_hash *p9auth_find(struct p9auth_mount *m,
				       const u8 *hash, unsigned int len)
{
	u8 key[P9AUTH_KEY_LEN];
	struct p9auth_hash *h;

	p9auth_set_key(key, hash, len);
	h = rhashtable_lookup_fast(&m->table, key, p9auth_table_params);
	memzero_explicit(key, sizeof(key));
	return h;
}

/*
 * Every refusal counts here, with or without m->lock held: refused is
 * atomic, so bad input is refused without contending for the table.  The
 * FUSE core (CapTable::refuse) follows the same rule.
 */
static int p9auth_refuse(struct p9auth_mount *m, int err)
{
	atomic64_inc(&m->refused);
	return err;
}

/*
 * Section 4: a write is one whole message.  Both files implement
 * write_iter, not write, so that writev(2) with several segments is one
 * message too (with only .write, the VFS would hand each segment over as
 * a write of its own).
 */

/* Section 4, grant: one raw hash per write. */
static ssize_t caphash_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct p9auth_mount *m = p9auth_mnt(file_inode(iocb->ki_filp));
	size_t count = iov_iter_count(from);
	struct p9auth_hash *h;
	int err;

	if (count == 0)
		return 0;
	if (count != SHA256_DIGEST_SIZE &&
	    !(count == SHA1_DIGEST_SIZE && m->opt.legacy_sha1))
		return p9auth_refuse(m, -EINVAL);

	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	h->key[0] = count;
	if (copy_from_iter(h->key + 1, count, from) != count) {
		kfree_sensitive(h);
		return -EFAULT;
	}

	mutex_lock(&m->lock);
	p9auth_expire(m);
	if (rhashtable_lookup_fast(&m->table, h->key, p9auth_table_params)) {
		err = -EEXIST;
	} else if (m->outstanding >= m->opt.maxcaps) {
		err = -ENOSPC;
	} else if (!p9auth_charge(m->user)) {
		err = -EDQUOT;	/* fs.p9auth.max_user_hashes, all mounts */
	} else {
		h->deadline = ktime_get_boottime_ns() +
			      (u64)m->opt.timeout * NSEC_PER_SEC;
		/* Fails only when the table cannot grow (memory). */
		err = rhashtable_insert_fast(&m->table, &h->node,
					     p9auth_table_params);
		if (!err) {
			list_add_tail(&h->age, &m->by_age);
			m->outstanding++;
			m->granted++;
			p9auth_arm_reclaim(m);
			mutex_unlock(&m->lock);
			return count;
		}
		p9auth_uncharge(m->user);
		err = -ENOMEM;
	}
	mutex_unlock(&m->lock);
	kfree_sensitive(h);
	return p9auth_refuse(m, err);
}

/* A parsed capability: pointers into the written text. */
struct p9auth_cap {
	u32 from, uid, gid;
	bool bare;			/* TO is UID only: uids change only */
	const char *groups;		/* G1,G2,...; NULL: none */
	const char *end;		/* end of TO */
	unsigned int ngroups;
	const char *msg;		/* FROM@TO: what the HMAC covers */
	size_t msg_len;
	const char *key;
	size_t key_len;
};

/* id = "0" / nonzero-digit *digit, at most P9AUTH_MAX_ID. */
static bool p9auth_parse_id(const char *s, const char *e, u32 *out)
{
	u64 v = 0;

	if (s == e || e - s > 10 || (e - s > 1 && *s == '0'))
		return false;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v > P9AUTH_MAX_ID)
		return false;
	*out = v;
	return true;
}

/* One id of a group list; returns the ',' after it, or e, or NULL if bad. */
static const char *p9auth_next_group(const char *s, const char *e, u32 *id)
{
	const char *comma = memchr(s, ',', e - s) ?: e;

	return p9auth_parse_id(s, comma, id) ? comma : NULL;
}

/* Section 1.  Any failure is EINVAL, and no message: the text holds a key. */
static int p9auth_parse(const char *text, size_t n, struct p9auth_cap *c)
{
	const char *end, *at1, *at2, *p, *q;
	size_t i;
	u32 id;

	if (n && text[n - 1] == '\n')
		n--;
	if (n == 0 || n > P9AUTH_MAX_CAPABILITY)
		return -EINVAL;
	end = text + n;

	at1 = memchr(text, '@', n);
	if (!at1)
		return -EINVAL;
	at2 = memchr(at1 + 1, '@', end - at1 - 1);
	if (!at2 || memchr(at2 + 1, '@', end - at2 - 1))
		return -EINVAL;
	if (!p9auth_parse_id(text, at1, &c->from))
		return -EINVAL;

	/* TO = UID [":" GID [":" G1 *("," G)]] */
	c->end = at2;
	p = memchr(at1 + 1, ':', at2 - at1 - 1) ?: at2;
	if (!p9auth_parse_id(at1 + 1, p, &c->uid))
		return -EINVAL;
	c->bare = p == at2;
	c->groups = NULL;
	c->ngroups = 0;
	if (!c->bare) {
		q = memchr(p + 1, ':', at2 - p - 1) ?: at2;
		if (!p9auth_parse_id(p + 1, q, &c->gid))
			return -EINVAL;
		if (q != at2) {		/* "UID:GID:" and "G," fail here */
			c->groups = q + 1;
			for (p = c->groups;; p++) {
				if (c->ngroups == P9AUTH_MAX_GROUPS)
					return -EINVAL;
				p = p9auth_next_group(p, at2, &id);
				if (!p)
					return -EINVAL;
				c->ngroups++;
				if (p == at2)
					break;
			}
		}
	}

	c->msg = text;
	c->msg_len = at2 - text;
	c->key = at2 + 1;
	c->key_len = end - c->key;
	if (c->key_len < P9AUTH_MIN_KEY || c->key_len > P9AUTH_MAX_KEY)
		return -EINVAL;
	for (i = 0; i < c->key_len; i++)
		if ((u8)c->key[i] < 0x21 || (u8)c->key[i] > 0x7e)
			return -EINVAL;	/* '@' is ruled out above */
	return 0;
}

/*
 * Section 2: hash = HMAC(KEY, FROM@TO), RFC 2104.  An "hmac(...)"
 * transform keeps its key in the transform, so it would need one
 * allocation per use (uses run in parallel), and 6.1 has no library HMAC.
 * HMAC-SHA256, on every use, is built here on the library SHA-256
 * (crypto/sha2.h: no transform, no allocation, no FPU section);
 * HMAC-SHA1, only for legacy_sha1 after a SHA-256 miss, on an unkeyed
 * "sha1" transform allocated once at load, which keeps all state in the
 * descriptor on the stack and is shared safely.  The padded key and the
 * inner hash are zeroed before return.
 */
static struct crypto_shash *p9auth_sha1;

#define P9AUTH_HMAC_BLOCK	64	/* SHA-1 and SHA-256; checked at load */

static void p9auth_hmac_sha256(const struct p9auth_cap *c, u8 *out)
{
	u8 pad[P9AUTH_HMAC_BLOCK] = {};
	u8 inner[SHA256_DIGEST_SIZE];
	struct sha256_state st;
	unsigned int i;

	if (c->key_len > P9AUTH_HMAC_BLOCK) {
		sha256_init(&st);
		sha256_update(&st, (const u8 *)c->key, c->key_len);
		sha256_final(&st, pad);
	} else {
		memcpy(pad, c->key, c->key_len);
	}
	for (i = 0; i < P9AUTH_HMAC_BLOCK; i++)
		pad[i] ^= 0x36;
	sha256_init(&st);
	sha256_update(&st, pad, P9AUTH_HMAC_BLOCK);
	sha256_update(&st, (const u8 *)c->msg, c->msg_len);
	sha256_final(&st, inner);
	for (i = 0; i < P9AUTH_HMAC_BLOCK; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	sha256_init(&st);
	sha256_update(&st, pad, P9AUTH_HMAC_BLOCK);
	sha256_update(&st, inner, SHA256_DIGEST_SIZE);
	sha256_final(&st, out);	/* zeroes st */
	memzero_explicit(pad, sizeof(pad));
	memzero_explicit(inner, sizeof(inner));
}

static int p9auth_hmac(struct crypto_shash *tfm, const struct p9auth_cap *c,
		       u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	unsigned int ds = crypto_shash_digestsize(tfm);
	u8 pad[P9AUTH_HMAC_BLOCK] = {};
	u8 inner[SHA1_DIGEST_SIZE];
	unsigned int i;
	int err = 0;

	desc->tfm = tfm;
	if (c->key_len > P9AUTH_HMAC_BLOCK)
		err = crypto_shash_digest(desc, (const u8 *)c->key, c->key_len,
					  pad);
	else
		memcpy(pad, c->key, c->key_len);
	for (i = 0; i < P9AUTH_HMAC_BLOCK; i++)
		pad[i] ^= 0x36;
	err = err ?: crypto_shash_init(desc);
	err = err ?: crypto_shash_update(desc, pad, P9AUTH_HMAC_BLOCK);
	err = err ?: crypto_shash_finup(desc, (const u8 *)c->msg, c->msg_len,
				       inner);
	for (i = 0; i < P9AUTH_HMAC_BLOCK; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	err = err ?: crypto_shash_init(desc);
	err = err ?: crypto_shash_update(desc, pad, P9AUTH_HMAC_BLOCK);
	err = err ?: crypto_shash_finup(desc, inner, ds, out);
	memzero_explicit(pad, sizeof(pad));
	memzero_explicit(inner, sizeof(inner));
	shash_desc_zero(desc);
	return err;
}

#ifdef P9AUTH_IN_TREE
/*
 * The ids change as setresuid(2), setresgid(2) and setgroups(2) change
 * them, through their own core: cred_fix_setid() gives a new real uid its
 * user_struct and ucounts, asks the LSMs (SafeSetID, SELinux, AppArmor may
 * refuse; commoncap adjusts the capability sets as for setresuid) and
 * flags RLIMIT_NPROC for the next execve().  The bare form keeps gid and
 * groups, so only the uid hook is asked then.
 */
static int p9auth_setid(struct cred *new, const struct cred *old, bool bare)
{
	return cred_fix_setid(new, old, bare ? CRED_SETID_UID :
			      CRED_SETID_UID | CRED_SETID_GID | CRED_SETID_GROUPS,
			      LSM_SETID_RES);
}

/* The record of a use (docs/spec.md section 4; p9auth.ko(8), AUDIT). */
#define P9AUTH_AUDIT_TYPE	AUDIT_P9AUTH
#else /* P9AUTH_IN_TREE */
/*
 * Out of tree the kernel's core of set*id(2) is not there to call: the
 * module does what it can of it itself (below) and cannot ask the LSM
 * setid hooks (security_task_fix_setuid/_setgid/_setgroups are not
 * exported): p9auth.ko(8), GATES.  In tree: cred_fix_setid() above.
 */
/*
 * Capabilities when the uids change: exactly what setresuid(2) does
 * (cap_task_fix_setuid() -> cap_emulate_setxuid() in
 * security/commoncap.c), which a module cannot call:
 *  - if the old creds had uid 0 (of the writer's user namespace) as real,
 *    effective or saved uid and the new have none, the permitted and
 *    effective sets are cleared (unless SECURE_KEEP_CAPS) and the ambient
 *    set is cleared;
 *  - an effective uid leaving 0 clears the effective set, one becoming 0
 *    raises it to the permitted set;
 *  - none of this with SECURE_NO_SETUID_FIXUP.
 * So a root daemon that uses a capability to become a user keeps no
 * privilege, and one that becomes root gets what setresuid(0,0,0) gives.
 */
static void p9auth_fix_caps(struct cred *new, const struct cred *old)
{
	kuid_t root = make_kuid(old->user_ns, 0);

	if (issecure(SECURE_NO_SETUID_FIXUP))
		return;
	if ((uid_eq(old->uid, root) || uid_eq(old->euid, root) ||
	     uid_eq(old->suid, root)) &&
	    !uid_eq(new->uid, root) && !uid_eq(new->euid, root) &&
	    !uid_eq(new->suid, root)) {
		if (!issecure(SECURE_KEEP_CAPS)) {
			cap_clear(new->cap_permitted);
			cap_clear(new->cap_effective);
		}
		cap_clear(new->cap_ambient);
	}
	if (uid_eq(old->euid, root) && !uid_eq(new->euid, root))
		cap_clear(new->cap_effective);
	if (!uid_eq(old->euid, root) && uid_eq(new->euid, root))
		new->cap_effective = new->cap_permitted;
}

/*
 * Per-user accounting.  setresuid(2) gives a new real uid its own
 * user_struct (alloc_uid) and ucounts (set_cred_ucounts), and commit_creds()
 * then moves the process's RLIMIT_NPROC charge.  Leaving them behind is not
 * harmless: the next setresuid() of the switched process would move its
 * ucounts without the charge, and its exit would underflow the new user's
 * count (WARN in dec_rlimit_ucounts).  Neither function is exported to
 * modules.  In tree, p9auth would call them directly; out of tree we ask
 * kallsyms for them once, at load, through a kprobe (the one lookup a module
 * still has), and refuse to load without them: fail closed.
 *
 * They are called through static calls, which the kernel patches into
 * direct jumps, not through function pointers: with IBT (6.12's Debian
 * kernels) an indirect call must land on an ENDBR, and the kernel seals
 * (removes) it from functions whose address is never taken, as theirs is
 * not.  kCFI would still refuse the types: no clang CFI build.
 */
#if IS_ENABLED(CONFIG_CFI_CLANG)
#error "p9auth out of tree needs alloc_uid/set_cred_ucounts by address: build it in tree"
#endif
DEFINE_STATIC_CALL_NULL(p9auth_alloc_uid, alloc_uid);
DEFINE_STATIC_CALL_NULL(p9auth_set_cred_ucounts, set_cred_ucounts);

static void *p9auth_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	void *addr;

	if (register_kprobe(&kp) < 0)
		return NULL;
	addr = kp.addr;
	unregister_kprobe(&kp);
	return addr;
}

/* As set_user() and set_cred_ucounts() in setresuid(2); new->uid is set. */
static int p9auth_account(struct cred *new, const struct cred *old)
{
	if (!uid_eq(new->uid, old->uid)) {
		struct user_struct *u = static_call(p9auth_alloc_uid)(new->uid);

		if (!u)
			return -ENOMEM;
		free_uid(new->user);
		new->user = u;
	}
	return static_call(p9auth_set_cred_ucounts)(new) ? -ENOMEM : 0;
}

/*
 * RLIMIT_NPROC, as setresuid(2) treats it (flag_nproc_exceeded(), not
 * exported): not a refusal here (a process rarely expects a change of
 * user to fail) but a flag that makes the next execve() fail with EAGAIN
 * if the new user is still over the limit then.  is_rlimit_overlimit() is
 * not exported either: only the count in the writer's own namespace is
 * compared, not those of the namespaces above it.
 */
static void p9auth_flag_nproc(const struct cred *new)
{
	unsigned long lim = rlimit(RLIMIT_NPROC);

	if (new->ucounts == current_ucounts())
		return;
	if (!uid_eq(new->uid, GLOBAL_ROOT_UID) &&
	    get_rlimit_value(new->ucounts, UCOUNT_RLIMIT_NPROC) >
	    (long)min_t(unsigned long, lim, LONG_MAX))
		current->flags |= PF_NPROC_EXCEEDED;
	else
		current->flags &= ~PF_NPROC_EXCEEDED;
}

static int p9auth_setid(struct cred *new, const struct cred *old, bool bare)
{
	int err;

	p9auth_fix_caps(new, old);
	err = p9auth_account(new, old);
	if (!err)
		p9auth_flag_nproc(new);
	return err;
}

/* The kernel's type for records of out-of-tree modules. */
#define P9AUTH_AUDIT_TYPE	AUDIT_KERNEL_OTHER
#endif /* P9AUTH_IN_TREE */

/*
 * May a full form set the groups of a writer in user namespace ns?  As
 * setgroups(2) asks (userns_may_setgroups(), not exported), of ns and of
 * every namespace up to the mount's, top: the writer is in top or below it
 * (capuse_write_iter() checked), and a "deny" anywhere on the way means
 * dropping a group could lift a negative group ACL that someone with less
 * privilege than the namespace's owner relies on (CVE-2014-8989).
 *
 * The flag is only stable once the namespace's gid_map is set:
 * proc_setgroups_write() refuses to change it after that, and map_write()
 * publishes nr_extents with smp_wmb() after the map (and after the flag,
 * both under userns_state_mutex).  So the caller maps the gids first, and
 * the flag is read here after those reads of nr_extents, behind the
 * smp_rmb() below; if a gid did not map, only "deny" is trusted (it can
 * never become "allow" again) and the caller answers EINVAL otherwise.
 */
static bool p9auth_may_setgroups(const struct user_namespace *ns,
				 const struct user_namespace *top)
{
	/* The flags after the gid_map reads, as userns_may_setgroups(). */
	smp_rmb();
	for (;; ns = ns->parent) {
		if (!(READ_ONCE(ns->flags) & USERNS_SETGROUPS_ALLOWED))
			return false;
		if (ns == top)
			return true;
		if (!ns->parent)
			return false;	/* not below top: cannot happen */
	}
}

/*
 * The writer's new credentials, everything allocated and every id mapped,
 * so that once the hash is removed nothing can fail.  Ids are read in the
 * mount's namespace and must also be mapped in the writer's own, as
 * setresuid(2) requires; otherwise EINVAL.  A full form where setgroups(2)
 * is denied (the writer's namespace or one up to the mount's): EPERM, also
 * when a gid is not mapped.
 *
 * Like setresuid(2), a new real uid moves the per-user accounting too
 * (cred->user and cred->ucounts; commit_creds() then moves the
 * RLIMIT_NPROC charge), and may set PF_NPROC_EXCEEDED: p9auth_setid().
 */
static struct cred *p9auth_prepare_creds(struct p9auth_mount *m,
					 const struct p9auth_cap *c)
{
	const struct cred *old = current_cred();
	struct group_info *gi;
	const char *p;
	kuid_t uid;
	kgid_t gid;
	struct cred *new;
	unsigned int i;
	int err;
	u32 id;

	uid = make_kuid(m->ns, c->uid);
	if (!kuid_has_mapping(old->user_ns, uid))
		return ERR_PTR(-EINVAL);
	new = prepare_creds();
	if (!new)
		return ERR_PTR(-ENOMEM);
	new->uid = new->euid = new->suid = new->fsuid = uid;

	if (!c->bare) {
		/*
		 * A full form sets the groups, so it obeys setgroups(2)'s
		 * rule; the gids are mapped first: see p9auth_may_setgroups().
		 */
		bool mapped;

		gi = groups_alloc(c->ngroups);
		if (!gi) {
			abort_creds(new);
			return ERR_PTR(-ENOMEM);
		}
		gid = make_kgid(m->ns, c->gid);
		mapped = kgid_has_mapping(old->user_ns, gid);
		for (i = 0, p = c->groups; mapped && i < c->ngroups; i++, p++) {
			p = p9auth_next_group(p, c->end, &id);
			gi->gid[i] = make_kgid(m->ns, id);
			mapped = kgid_has_mapping(old->user_ns, gi->gid[i]);
		}
		if (!p9auth_may_setgroups(old->user_ns, m->ns)) {
			put_group_info(gi);
			abort_creds(new);
			return ERR_PTR(-EPERM);
		}
		if (!mapped) {
			put_group_info(gi);
			goto invalid;
		}
		groups_sort(gi);
		set_groups(new, gi);	/* takes its own reference */
		put_group_info(gi);
		new->gid = new->egid = new->sgid = new->fsgid = gid;
	}
	err = p9auth_setid(new, old, c->bare);
	if (err) {
		abort_creds(new);
		return ERR_PTR(err);
	}
	return new;

invalid:
	abort_creds(new);
	return ERR_PTR(-EINVAL);
}

/*
 * A traced writer: exec's rule (LSM_UNSAFE_PTRACE, ptracer_capable(), not
 * exported).  A tracer that could not attach to the new credentials must
 * not keep driving the process once it has them, so unless the tracer (its
 * credentials when it attached) holds CAP_SYS_PTRACE over the writer's user
 * namespace, the use is refused and the hash stays.  Called with
 * current->signal->cred_guard_mutex held: ptrace_attach() takes it too, so
 * no tracer attaches between this check and commit_creds().
 */
static bool p9auth_tracer_allows(struct user_namespace *ns)
{
	const struct cred *tracer;
	bool ok = true;		/* no tracer: nothing to ask */

	if (!current->ptrace)
		return true;
	rcu_read_lock();
	tracer = rcu_dereference(current->ptracer_cred);
	if (tracer)
		ok = p9auth_cred_capable(tracer, ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
	return ok;
}

/*
 * A use changes who the process is, as setresuid(2) does, so it leaves an
 * audit record (when auditing is on): the ids before and after, in the
 * initial namespace.  Uses only: a refusal changes nothing and is counted
 * in status, and recording it would let anyone fill the audit log.  No
 * capability text: it is the secret.
 */
static void p9auth_audit_use(kuid_t old_uid, kgid_t old_gid)
{
	const struct cred *cred = current_cred();

	if (!audit_enabled)
		return;
	audit_log(audit_context(), GFP_KERNEL, P9AUTH_AUDIT_TYPE,
		  "op=p9auth_use old_uid=%u old_gid=%u uid=%u gid=%u res=1",
		  from_kuid(&init_user_ns, old_uid), from_kgid(&init_user_ns, old_gid),
		  from_kuid(&init_user_ns, cred->uid), from_kgid(&init_user_ns, cred->gid));
}

/* Section 4, use: the checks in the spec's order; the first that fails decides. */
static ssize_t capuse_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct p9auth_mount *m = p9auth_mnt(file_inode(iocb->ki_filp));
	size_t count = iov_iter_count(from);
	u8 h256[SHA256_DIGEST_SIZE], h1[SHA1_DIGEST_SIZE];
	struct p9auth_hash *h = NULL;
	struct p9auth_cap c;
	struct cred *new;
	unsigned int nproc;
	kuid_t old_uid;
	kgid_t old_gid;
	char *text;
	int err;

	if (count == 0)
		return 0;
	/*
	 * commit_creds() replaces current's own credentials: not from an
	 * io_uring worker or a kernel thread, nor while they are overridden.
	 */
	if ((current->flags & (PF_KTHREAD | PF_IO_WORKER)) ||
	    current_cred() != current_real_cred())
		return p9auth_refuse(m, -EPERM);
	/*
	 * Only a writer in the mount's user namespace or one below it.  The
	 * granter's privilege is that namespace's; a descriptor of capuse
	 * passed outside it (SCM_RIGHTS, /proc/PID/root) must not let it
	 * change the ids of a process the namespace has no power over: FROM
	 * 0 of an unprivileged user's namespace is her own uid outside, and
	 * outside setgroups(2) may be allowed.  The FUSE mount is the same:
	 * with allow_other, FUSE admits only processes in its namespace.
	 */
	if (!current_in_userns(m->ns))
		return p9auth_refuse(m, -EPERM);
	/*
	 * no_new_privs: in FUSE mode p9use's file capabilities are ignored,
	 * so it cannot switch; a sandbox stays a sandbox here too.
	 */
	if (task_no_new_privs(current))
		return p9auth_refuse(m, -EPERM);
	if (count > P9AUTH_MAX_CAPABILITY + 1 ||
	    iov_iter_npages(from, P9AUTH_MAX_WRITE_PAGES + 1) >
	    P9AUTH_MAX_WRITE_PAGES)
		return p9auth_refuse(m, -EINVAL);

	text = kmalloc(count, GFP_KERNEL);
	if (!text)
		return -ENOMEM;
	if (copy_from_iter(text, count, from) != count) {
		kfree_sensitive(text);
		return -EFAULT;
	}
	memset(h256, 0, sizeof(h256));
	memset(h1, 0, sizeof(h1));

	err = p9auth_parse(text, count, &c);
	if (err)
		goto refused;
	/* The writer is its real uid; a wrong writer does not use it up. */
	if (!uid_eq(current_uid(), make_kuid(m->ns, c.from))) {
		err = -EPERM;
		goto refused;
	}
	/* SHA-1 (legacy_sha1) is computed only when SHA-256 misses: below. */
	p9auth_hmac_sha256(&c, h256);

	/* p9auth_setid() may set it; a refused use must not leave it set. */
	nproc = current->flags & PF_NPROC_EXCEEDED;
	old_uid = current_uid();
	old_gid = current_gid();
	new = p9auth_prepare_creds(m, &c);

	/* As exec: no tracer attaches until the new credentials are in place. */
	if (mutex_lock_interruptible(&current->signal->cred_guard_mutex)) {
		if (!IS_ERR(new))
			abort_creds(new);
		current->flags = (current->flags & ~PF_NPROC_EXCEEDED) | nproc;
		err = -ERESTARTNOINTR;	/* nothing happened: the write restarts */
		goto out;
	}
	mutex_lock(&m->lock);
	p9auth_expire(m);
	h = p9auth_find(m, h256, SHA256_DIGEST_SIZE);
	if (!h && m->opt.legacy_sha1 && !p9auth_hmac(p9auth_sha1, &c, h1))
		h = p9auth_find(m, h1, SHA1_DIGEST_SIZE);
	if (!h)
		err = -EPERM;
	else if (IS_ERR(new))
		err = PTR_ERR(new);	/* the table stays as it was */
	else if (!p9auth_tracer_allows(new->user_ns))
		err = -EPERM;		/* and the hash stays */
	if (err) {
		p9auth_refuse(m, err);
	} else {
		p9auth_drop(m, h);	/* one-time: decided under the lock */
		m->used++;
	}
	mutex_unlock(&m->lock);

	if (!err)
		commit_creds(new);	/* all ids at once; cannot fail */
	else if (!IS_ERR(new))
		abort_creds(new);
	mutex_unlock(&current->signal->cred_guard_mutex);
	if (!err)
		p9auth_audit_use(old_uid, old_gid);
	else
		current->flags = (current->flags & ~PF_NPROC_EXCEEDED) | nproc;
	goto out;

refused:
	p9auth_refuse(m, err);
out:
	memzero_explicit(h256, sizeof(h256));
	memzero_explicit(h1, sizeof(h1));
	kfree_sensitive(text);
	return err ? err : count;
}

/* Section 5: may current grant (grant_once aside)?  Its credentials now. */
static bool p9auth_may_grant(struct p9auth_mount *m)
{
	if (uid_valid(m->opt.grant_uid) || gid_valid(m->opt.grant_gid)) {
		if (uid_valid(m->opt.grant_uid) &&
		    !uid_eq(current_fsuid(), m->opt.grant_uid))
			return false;
		if (gid_valid(m->opt.grant_gid) && !in_group_p(m->opt.grant_gid))
			return false;
		return true;
	}
	/* No one can grant what they could not take. */
	return ns_capable(m->ns, CAP_SETUID) && ns_capable(m->ns, CAP_SETGID);
}

/*
 * Opens of caphash and capuse make no fsnotify events (FMODE_NONOTIFY, as
 * fanotify's own descriptors): their open, writes and close would tell any
 * watcher of the directory when grants and uses happen.  Watches on the
 * files themselves are refused in p9auth_permission().
 */

/*
 * Section 5: caphash and capuse are opened by a process for itself.  A
 * set-uid mount helper (fusermount3) opens a regular-file mount point as
 * its caller, fsuid lowered, as its whole check that the caller may mount
 * over it; that open must fail.  Set-id: real, effective and saved ids not
 * all equal (the fs ids may differ: factotum opens caphash as root with
 * its grant_uid= user's fsuid).  Able to mount (CAP_SYS_ADMIN over the
 * mount's user namespace) without being uid 0 of its own (root of a
 * namespace above the mount's is root): such a helper with file
 * capabilities instead of the set-uid bit.  No LSM is asked: it
 * could only make this refuse less, and audit nothing here.
 */
static bool p9auth_acts_for_another(struct p9auth_mount *m,
				    const struct cred *cred)
{
	if (!uid_eq(cred->uid, cred->euid) || !uid_eq(cred->uid, cred->suid) ||
	    !gid_eq(cred->gid, cred->egid) || !gid_eq(cred->gid, cred->sgid))
		return true;
	return p9auth_cred_capable(cred, m->ns, CAP_SYS_ADMIN) &&
	       !uid_eq(cred->euid, make_kuid(cred->user_ns, 0));
}

/* Section 5: who may grant, judged at open with the opener's credentials. */
static int caphash_open(struct inode *inode, struct file *file)
{
	struct p9auth_mount *m = p9auth_mnt(inode);

	if (file->f_mode & FMODE_READ)
		return -EACCES;
	if (p9auth_acts_for_another(m, file->f_cred))
		return -EPERM;
	if (!p9auth_may_grant(m))
		return -EPERM;
	/* Only a successful open spends grant_once. */
	if (m->opt.grant_once && test_and_set_bit(P9AUTH_OPENED, &m->flags))
		return -EPERM;
	p9auth_file_nonotify(file);
	return 0;
}

static int capuse_open(struct inode *inode, struct file *file)
{
	if (file->f_mode & FMODE_READ)
		return -EACCES;
	if (p9auth_acts_for_another(p9auth_mnt(inode), file->f_cred))
		return -EPERM;
	p9auth_file_nonotify(file);
	return 0;
}

/* Section 7: a snapshot taken at open. */
struct p9auth_status {
	size_t len;
	char text[256];
};

static int status_open(struct inode *inode, struct file *file)
{
	struct p9auth_mount *m = p9auth_mnt(inode);
	struct p9auth_status *s;
	u64 granted, used, expired, refused;
	u32 outstanding;

	if (file->f_mode & FMODE_WRITE)
		return -EACCES;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_lock(&m->lock);
	p9auth_expire(m);
	outstanding = m->outstanding;
	granted = m->granted;
	used = m->used;
	expired = m->expired;
	mutex_unlock(&m->lock);
	refused = atomic64_read(&m->refused);

	s->len = scnprintf(s->text, sizeof(s->text),
			   "outstanding %u\ngranted %llu\nused %llu\nexpired %llu\n"
			   "refused %llu\nmaxcaps %u\ntimeout %u\n",
			   outstanding, granted, used, expired, refused,
			   m->opt.maxcaps, m->opt.timeout);
	file->private_data = s;
	return 0;
}

static ssize_t status_read(struct file *file, char __user *buf, size_t count,
			   loff_t *ppos)
{
	struct p9auth_status *s = file->private_data;

	return simple_read_from_buffer(buf, count, ppos, s->text, s->len);
}

static int status_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct file_operations caphash_fops = {
	.owner		= THIS_MODULE,
	.open		= caphash_open,
	.write_iter	= caphash_write_iter,
	.llseek		= noop_llseek,
};

static const struct file_operations capuse_fops = {
	.owner		= THIS_MODULE,
	.open		= capuse_open,
	.write_iter	= capuse_write_iter,
	.llseek		= noop_llseek,
};

static const struct file_operations status_fops = {
	.owner		= THIS_MODULE,
	.open		= status_open,
	.read		= status_read,
	.release	= status_release,
	.llseek		= default_llseek,
};

/*
 * Section 8.  The rules above, not the mode bits, decide who may open what
 * (the modes only show the rules), so permission() lets every open reach
 * the open() above, and lets every namespace operation on the directory
 * reach the VFS, which answers EPERM for an operation we do not have.
 *
 * One exception: MAY_READ alone (no MAY_OPEN, no MAY_ACCESS) is what
 * inotify_add_watch() and fanotify_mark() ask before they watch an inode,
 * the mount or the whole filesystem through any path in it.  A watch would
 * show when grants and uses happen, so only those who may grant (and so
 * see every grant anyway) may place one, on any inode of the mount.
 */
static int p9auth_permission(P9AUTH_IDMAP *idmap,
			     struct inode *inode, int mask)
{
	if ((mask & ~MAY_NOT_BLOCK) == MAY_READ) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;	/* ns_capable() may audit */
		return p9auth_may_grant(p9auth_mnt(inode)) ? 0 : -EACCES;
	}
	if (S_ISDIR(inode->i_mode))
		return generic_permission(idmap, inode, mask & ~MAY_WRITE);
	return (mask & MAY_EXEC) ? -EACCES : 0;
}

/*
 * Section 8: no setattr succeeds, a truncate to 0 of caphash or capuse (as
 * O_TRUNC asks) included.  The VFS reports every truncate the filesystem
 * accepts to the directory's watchers (notify_change() -> fsnotify_change(),
 * after ->setattr() returns 0, with no file to mark FMODE_NONOTIFY), and a
 * dnotify watch (fcntl F_NOTIFY) asks the filesystem nothing before it is
 * placed: an accepted O_TRUNC would tell anyone who can open the directory
 * when a use happens.  Refused, nothing changes and no event is sent; the
 * open that asked for it fails.  (FUSE mode accepts it: anyone may watch
 * there anyway, spec section 5.)
 */
static int p9auth_setattr(P9AUTH_IDMAP *idmap,
			  struct dentry *dentry, struct iattr *attr)
{
	return -EPERM;
}

/* The VFS answers EACCES for a missing create(); the spec says EPERM. */
static int p9auth_create(P9AUTH_IDMAP *idmap, struct inode *dir,
			 struct dentry *dentry, umode_t mode, bool excl)
{
	return -EPERM;
}

static ssize_t p9auth_listxattr(struct dentry *dentry, char *list, size_t size)
{
	return -EOPNOTSUPP;
}

/* No handlers: every get/set/remove of an xattr is EOPNOTSUPP. */
static const struct xattr_handler *p9auth_xattr_handlers[] = { NULL };

static const struct inode_operations p9auth_dir_iops = {
	.lookup		= simple_lookup,
	.create		= p9auth_create,
	.permission	= p9auth_permission,
	.setattr	= p9auth_setattr,
	.listxattr	= p9auth_listxattr,
};

static const struct inode_operations p9auth_file_iops = {
	.permission	= p9auth_permission,
	.setattr	= p9auth_setattr,
	.listxattr	= p9auth_listxattr,
};

static struct inode *p9auth_inode(struct super_block *sb, unsigned long ino,
				  umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;
	inode->i_ino = ino;
	inode->i_mode = mode;	/* owner: 0:0 of sb->s_user_ns */
	p9auth_inode_init_ts(inode);
	inode->i_op = &p9auth_file_iops;
	return inode;
}

static int p9auth_add_file(struct dentry *root, const char *name,
			   unsigned long ino, umode_t mode,
			   const struct file_operations *fops)
{
	struct dentry *dentry = d_alloc_name(root, name);
	struct inode *inode;

	if (!dentry)
		return -ENOMEM;
	inode = p9auth_inode(root->d_sb, ino, S_IFREG | mode);
	if (!inode) {
		dput(dentry);
		return -ENOMEM;
	}
	inode->i_fop = fops;
	if (ino == P9AUTH_INO_CAPHASH) {
		struct p9auth_mount *m = root->d_sb->s_fs_info;

		if (uid_valid(m->opt.grant_uid))
			inode->i_uid = m->opt.grant_uid;
		if (gid_valid(m->opt.grant_gid))
			inode->i_gid = m->opt.grant_gid;
	}
	d_add(dentry, inode);	/* pinned until kill_litter_super() */
	return 0;
}

static int p9auth_show_options(struct seq_file *seq, struct dentry *root)
{
	struct p9auth_mount *m = root->d_sb->s_fs_info;

	seq_printf(seq, ",timeout=%u,maxcaps=%u", m->opt.timeout, m->opt.maxcaps);
	if (uid_valid(m->opt.grant_uid))
		seq_printf(seq, ",grant_uid=%u",
			   from_kuid_munged(seq_user_ns(seq), m->opt.grant_uid));
	if (gid_valid(m->opt.grant_gid))
		seq_printf(seq, ",grant_gid=%u",
			   from_kgid_munged(seq_user_ns(seq), m->opt.grant_gid));
	if (m->opt.grant_once)
		seq_puts(seq, ",grant_once");
	if (m->opt.legacy_sha1)
		seq_puts(seq, ",legacy_sha1");
	return 0;
}

static const struct super_operations p9auth_super_ops = {
	.statfs		= simple_statfs,
	.drop_inode	= generic_delete_inode,
	.show_options	= p9auth_show_options,
};

static int p9auth_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct p9auth_options *opt = fc->fs_private;
	struct p9auth_mount *m;
	struct inode *root;
	int err;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return -ENOMEM;
	m->opt = *opt;
	m->ns = sb->s_user_ns;
	mutex_init(&m->lock);
	INIT_DELAYED_WORK(&m->reclaim, p9auth_reclaim);
	m->user = p9auth_user_get(m->ns);
	if (IS_ERR(m->user)) {
		m->user = NULL;
		kfree(m);
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&m->by_age);
	err = rhashtable_init(&m->table, &p9auth_table_params);
	if (err) {
		p9auth_user_put(m->user);
		kfree(m);
		return err;
	}
	sb->s_fs_info = m;	/* freed by p9auth_kill_sb(), even on failure */

	sb->s_magic = P9AUTH_SUPER_MAGIC;
	sb->s_op = &p9auth_super_ops;
	sb->s_xattr = p9auth_xattr_handlers;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_time_gran = 1;
	sb->s_iflags |= SB_I_NOEXEC | SB_I_NODEV;

	root = p9auth_inode(sb, P9AUTH_INO_ROOT, S_IFDIR | P9AUTH_MODE_ROOT);
	if (!root)
		return -ENOMEM;
	root->i_op = &p9auth_dir_iops;
	root->i_fop = &simple_dir_operations;
	set_nlink(root, 2);
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;

	err = p9auth_add_file(sb->s_root, P9AUTH_FILE_CAPHASH,
			      P9AUTH_INO_CAPHASH, P9AUTH_MODE_CAPHASH,
			      &caphash_fops);
	if (!err)
		err = p9auth_add_file(sb->s_root, P9AUTH_FILE_CAPUSE,
				      P9AUTH_INO_CAPUSE, P9AUTH_MODE_CAPUSE,
				      &capuse_fops);
	if (!err)
		err = p9auth_add_file(sb->s_root, P9AUTH_FILE_STATUS,
				      P9AUTH_INO_STATUS, P9AUTH_MODE_STATUS,
				      &status_fops);
	return err;
}

static void p9auth_free_hash(void *ptr, void *arg)
{
	struct p9auth_mount *m = arg;

	m->outstanding--;
	p9auth_uncharge(m->user);
	kfree_sensitive(ptr);	/* zeroes the hash */
}

static void p9auth_kill_sb(struct super_block *sb)
{
	struct p9auth_mount *m = sb->s_fs_info;

	kill_litter_super(sb);
	if (!m)
		return;
	/* It re-arms itself: the _sync cancel waits and keeps it off. */
	cancel_delayed_work_sync(&m->reclaim);
	/*
	 * No file is open any more.  rhashtable_free_and_destroy() first
	 * stops the table's own rehash worker (which walks the chains), then
	 * hands over every hash (and cond_resched()s between buckets).
	 */
	rhashtable_free_and_destroy(&m->table, p9auth_free_hash, m);
	p9auth_user_put(m->user);
	mutex_destroy(&m->lock);
	kfree(m);
}

/* Section 6: mount options, through the fs_context API. */
enum {
	Opt_timeout, Opt_maxcaps, Opt_grant_uid, Opt_grant_gid,
	Opt_grant_once, Opt_legacy_sha1,
};

/* Numbers are strings here: they are read as plain decimal below. */
static const struct fs_parameter_spec p9auth_fs_parameters[] = {
	fsparam_string(P9AUTH_OPT_TIMEOUT,	Opt_timeout),
	fsparam_string(P9AUTH_OPT_MAXCAPS,	Opt_maxcaps),
	fsparam_string(P9AUTH_OPT_GRANT_UID,	Opt_grant_uid),
	fsparam_string(P9AUTH_OPT_GRANT_GID,	Opt_grant_gid),
	fsparam_flag(P9AUTH_OPT_GRANT_ONCE,	Opt_grant_once),
	fsparam_flag(P9AUTH_OPT_LEGACY_SHA1,	Opt_legacy_sha1),
	{}
};

/* Decimal digits only, lo..hi. */
static bool p9auth_parse_number(const char *s, u32 lo, u32 hi, u32 *out)
{
	u64 v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > hi)
			return false;
	}
	if (v < lo)
		return false;
	*out = v;
	return true;
}

static int p9auth_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct p9auth_options *opt = fc->fs_private;
	struct fs_parse_result result;
	int k;
	u32 v;

	k = fs_parse(fc, p9auth_fs_parameters, param, &result);
	if (k < 0)
		return k;
	opt->given = true;
	switch (k) {
	case Opt_timeout:
		if (!p9auth_parse_number(param->string, P9AUTH_MIN_TIMEOUT,
					 P9AUTH_MAX_TIMEOUT, &opt->timeout))
			return invalfc(fc, "timeout: expected seconds from %u to %u",
				       P9AUTH_MIN_TIMEOUT, P9AUTH_MAX_TIMEOUT);
		break;
	case Opt_maxcaps:
		if (!p9auth_parse_number(param->string, P9AUTH_MIN_MAXCAPS,
					 P9AUTH_MAX_MAXCAPS, &opt->maxcaps))
			return invalfc(fc, "maxcaps: expected a count from %u to %u",
				       P9AUTH_MIN_MAXCAPS, P9AUTH_MAX_MAXCAPS);
		break;
	case Opt_grant_uid:
		opt->grant_named = true;
		if (!p9auth_parse_number(param->string, 0, P9AUTH_MAX_ID, &v))
			return invalfc(fc, "grant_uid: expected a decimal uid");
		opt->grant_uid = make_kuid(fc->user_ns, v);
		if (!uid_valid(opt->grant_uid))
			return invalfc(fc, "grant_uid: not mapped in the mount's user namespace");
		break;
	case Opt_grant_gid:
		opt->grant_named = true;
		if (!p9auth_parse_number(param->string, 0, P9AUTH_MAX_ID, &v))
			return invalfc(fc, "grant_gid: expected a decimal gid");
		opt->grant_gid = make_kgid(fc->user_ns, v);
		if (!gid_valid(opt->grant_gid))
			return invalfc(fc, "grant_gid: not mapped in the mount's user namespace");
		break;
	case Opt_grant_once:
		opt->grant_once = true;
		break;
	case Opt_legacy_sha1:
		opt->legacy_sha1 = true;
		break;
	}
	return 0;
}

/*
 * grant_uid=/grant_gid= hand the grant right to an identity that need not
 * hold CAP_SETUID and CAP_SETGID itself: only a mounter who holds both in
 * the mount's user namespace may name them, or a CAP_SYS_ADMIN-only mounter
 * could grant itself any uid (no one can grant what they could not take).
 * Asked of the mounter now (current, LSMs included) and of the credentials
 * that created the context (fsopen(2) may have been called by another).
 */
static int p9auth_check_grant_options(struct fs_context *fc,
				      struct user_namespace *ns,
				      const struct p9auth_options *opt)
{
	if (!uid_valid(opt->grant_uid) && !gid_valid(opt->grant_gid))
		return 0;
	if (!ns_capable(ns, CAP_SETUID) || !ns_capable(ns, CAP_SETGID) ||
	    !p9auth_cred_capable(fc->cred, ns, CAP_SETUID) ||
	    !p9auth_cred_capable(fc->cred, ns, CAP_SETGID)) {
		errorfc(fc, "grant_uid=/grant_gid= need CAP_SETUID and CAP_SETGID in the mount's user namespace");
		return -EPERM;
	}
	return 0;
}

static int p9auth_get_tree(struct fs_context *fc)
{
	struct p9auth_options *opt = fc->fs_private;
	int err = p9auth_check_grant_options(fc, fc->user_ns, opt);

	if (err)
		return err;
	/* See p9auth_user: an unprivileged mount's table is bounded too. */
	if (fc->user_ns != &init_user_ns && opt->maxcaps > P9AUTH_USERNS_MAXCAPS)
		return invalfc(fc, "maxcaps: at most %u in a user namespace other than the initial one",
			       P9AUTH_USERNS_MAXCAPS);
	return get_tree_nodev(fc, p9auth_fill_super);
}

/*
 * A remount may repeat options (mount(8) does) but not change them; the
 * ones it does not name keep their values (p9auth_init_fs_context()).
 * Naming grant_uid=/grant_gid= again needs what mounting with them needs.
 */
static int p9auth_reconfigure(struct fs_context *fc)
{
	struct p9auth_options *opt = fc->fs_private;
	struct p9auth_mount *m = fc->root->d_sb->s_fs_info;
	int err;

	if (!opt->given)
		return 0;
	if (opt->grant_named) {
		err = p9auth_check_grant_options(fc, m->ns, opt);
		if (err)
			return err;
	}
	if ((opt->timeout != m->opt.timeout || opt->maxcaps != m->opt.maxcaps ||
	     !uid_eq(opt->grant_uid, m->opt.grant_uid) ||
	     !gid_eq(opt->grant_gid, m->opt.grant_gid) ||
	     opt->grant_once != m->opt.grant_once ||
	     opt->legacy_sha1 != m->opt.legacy_sha1))
		return invalfc(fc, "options cannot change on remount");
	return 0;
}

static void p9auth_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations p9auth_context_ops = {
	.free		= p9auth_free_fc,
	.parse_param	= p9auth_parse_param,
	.get_tree	= p9auth_get_tree,
	.reconfigure	= p9auth_reconfigure,
};

static int p9auth_init_fs_context(struct fs_context *fc)
{
	struct p9auth_options *opt = kzalloc(sizeof(*opt), GFP_KERNEL);

	if (!opt)
		return -ENOMEM;
	if (fc->purpose == FS_CONTEXT_FOR_RECONFIGURE) {
		/* A remount starts from what the mount has: unnamed ones stay. */
		struct p9auth_mount *m = fc->root->d_sb->s_fs_info;

		*opt = m->opt;
		opt->given = false;
		opt->grant_named = false;
	} else {
		opt->timeout = P9AUTH_DEFAULT_TIMEOUT;
		opt->maxcaps = P9AUTH_DEFAULT_MAXCAPS;
		opt->grant_uid = INVALID_UID;
		opt->grant_gid = INVALID_GID;
	}
	fc->fs_private = opt;
	fc->ops = &p9auth_context_ops;
	return 0;
}

static struct file_system_type p9auth_fs_type = {
	.owner			= THIS_MODULE,
	.name			= P9AUTH_FS_TYPE,
	.init_fs_context	= p9auth_init_fs_context,
	.parameters		= p9auth_fs_parameters,
	.kill_sb		= p9auth_kill_sb,
	.fs_flags		= FS_USERNS_MOUNT,
};

/* fs.p9auth.hashes: root only; the outstanding hashes of all mounts. */
static int p9auth_sysctl_hashes(P9AUTH_CTL_TABLE *table, int write,
				void *buffer, size_t *lenp, loff_t *ppos)
{
	unsigned long v = atomic_long_read(&p9auth_hashes);
	struct ctl_table t = *table;

	t.data = &v;
	t.maxlen = sizeof(v);
	return proc_doulongvec_minmax(&t, write, buffer, lenp, ppos);
}

static struct ctl_table p9auth_sysctls[] = {
	{
		.procname	= "max_user_hashes",
		.data		= &p9auth_max_user_hashes,
		.maxlen		= sizeof(unsigned int),
		.mode		= 0644,
		.proc_handler	= proc_douintvec,
	},
	{
		.procname	= "hashes",
		.mode		= 0400,	/* a count anyone could poll is a timing leak */
		.proc_handler	= p9auth_sysctl_hashes,
	},
	P9AUTH_SYSCTL_END
};

static struct ctl_table_header *p9auth_sysctl_header;

static int __init p9auth_init(void)
{
#ifndef P9AUTH_IN_TREE
	void *alloc, *set_ucounts;
#endif /* P9AUTH_IN_TREE */
	int err;

	/* Fail the load, not the first use, when an algorithm is missing. */
	p9auth_sha1 = crypto_alloc_shash("sha1", 0, 0);
	if (IS_ERR(p9auth_sha1)) {
		pr_err("sha1 is needed\n");
		return PTR_ERR(p9auth_sha1);
	}
	if (crypto_shash_blocksize(p9auth_sha1) != P9AUTH_HMAC_BLOCK ||
	    crypto_shash_digestsize(p9auth_sha1) != SHA1_DIGEST_SIZE) {
		err = -EINVAL;
		goto free_tfms;
	}
	get_random_bytes(&p9auth_table_key, sizeof(p9auth_table_key));
#ifndef P9AUTH_IN_TREE
	alloc = p9auth_lookup("alloc_uid");
	set_ucounts = p9auth_lookup("set_cred_ucounts");
	if (!alloc || !set_ucounts) {
		pr_err("alloc_uid and set_cred_ucounts not found (needs CONFIG_KPROBES)\n");
		err = -ENOENT;
		goto free_tfms;
	}
	static_call_update(p9auth_alloc_uid, (typeof(&alloc_uid))alloc);
	static_call_update(p9auth_set_cred_ucounts,
			   (typeof(&set_cred_ucounts))set_ucounts);
#endif /* P9AUTH_IN_TREE */
	p9auth_sysctl_header = register_sysctl("fs/p9auth", p9auth_sysctls);
	if (!p9auth_sysctl_header) {
		err = -ENOMEM;
		goto free_tfms;
	}
	err = register_filesystem(&p9auth_fs_type);
	if (!err)
		return 0;
	unregister_sysctl_table(p9auth_sysctl_header);
free_tfms:
	crypto_free_shash(p9auth_sha1);
	return err;
}

static void __exit p9auth_exit(void)
{
	unregister_filesystem(&p9auth_fs_type);
	unregister_sysctl_table(p9auth_sysctl_header);
	crypto_free_shash(p9auth_sha1);
}

module_init(p9auth_init);
module_exit(p9auth_exit);

MODULE_DESCRIPTION("p9auth: Plan 9 style capabilities to change user id");
MODULE_LICENSE("GPL");
MODULE_ALIAS_FS(P9AUTH_FS_TYPE);
