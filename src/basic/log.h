/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: plain lines on a terminal, <N> priority prefixes under systemd's
 * journal, /dev/kmsg in an initramfs. Below the command layer only
 * log_debug() is used; errors are returned, not printed. */
#pragma once

#include <syslog.h>
#include "macro.h"

enum log_target { LOG_TARGET_CONSOLE, LOG_TARGET_JOURNAL, LOG_TARGET_KMSG };

void log_set_level(int level);
int log_get_level(void);
void log_set_target(enum log_target t);
/* Picks the journal when stderr is connected to it ($JOURNAL_STREAM). */
void log_setup_auto(void);

/* Logs and returns -abs(error); %m prints strerror(error). */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal(level, error, __VA_ARGS__)
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, e, __VA_ARGS__)
