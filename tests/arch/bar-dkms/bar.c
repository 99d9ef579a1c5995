// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/init.h>

static int __init bar_init(void)
{
	pr_info("bar: loaded\n");
	return 0;
}

static void __exit bar_exit(void)
{
}

module_init(bar_init);
module_exit(bar_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("2.0");
MODULE_DESCRIPTION("dkms-agent Arch test: sources in /opt");
