/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels p9auth.ko is built for: Debian 12's
 * 6.1 and the 6.12 of its backports.  Only interface changes live here;
 * what the module does is the same on both.
 */
#ifndef P9AUTH_COMPAT_H
#define P9AUTH_COMPAT_H

#include <linux/fs.h>
#include <linux/sysctl.h>
#include <linux/version.h>

/* 6.3: inode operations take the mount's idmap, not its user namespace. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define P9AUTH_IDMAP	struct mnt_idmap
#else
#define P9AUTH_IDMAP	struct user_namespace
#endif

/* 6.7: the inode's times are behind accessors. */
static inline void p9auth_inode_init_ts(struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	simple_inode_init_ts(inode);
#else
	inode->i_atime = inode->i_mtime = inode->i_ctime = current_time(inode);
#endif
}

/*
 * 6.11: proc handlers take a const table, and register_sysctl() counts
 * the entries (ARRAY_SIZE), so the empty sentinel entry must go.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define P9AUTH_CTL_TABLE	const struct ctl_table
#define P9AUTH_SYSCTL_END
#else
#define P9AUTH_CTL_TABLE	struct ctl_table
#define P9AUTH_SYSCTL_END	{}
#endif

/*
 * No fsnotify event from this open file.  6.12's stable series (with the
 * fsnotify rework of 6.14) made FMODE_NONOTIFY one value of a two-bit
 * field that the VFS has already set before ->open(): "suppress all" is
 * the field equal to FMODE_NONOTIFY, not the bit added to what is there.
 */
static inline void p9auth_file_nonotify(struct file *file)
{
#ifdef FMODE_FSNOTIFY_MASK
	file->f_mode = (file->f_mode & ~FMODE_FSNOTIFY_MASK) | FMODE_NONOTIFY;
#else
	file->f_mode |= FMODE_NONOTIFY;
#endif
}

#endif /* P9AUTH_COMPAT_H */
