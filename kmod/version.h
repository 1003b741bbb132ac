/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_VERSION_H
#define _GKM_VERSION_H

#define GKM_VERSION "0.1.0"

#endif /* _GKM_VERSION_H */
