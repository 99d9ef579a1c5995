// SPDX-License-Identifier: GPL-2.0-or-later
/* Trivial module for the integration tests (kernel-install, pacman, Debian,
 * mkinitcpio and dracut hooks). */
#include <linux/init.h>
#include <linux/module.h>

static int __init dkatest_init(void)
{
	pr_info("dkatest: loaded\n");
	return 0;
}

static void __exit dkatest_exit(void)
{
}

module_init(dkatest_init);
module_exit(dkatest_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dkms-agent integration test module");
