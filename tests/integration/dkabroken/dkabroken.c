// SPDX-License-Identifier: GPL-2.0-or-later
/* A module that never compiles: the hooks must survive a failed build. */
#include <linux/module.h>
#error "dkabroken is meant to fail to build"
MODULE_LICENSE("GPL");
