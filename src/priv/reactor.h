/*
 * reactor.h: io's reactor threads (io.c), as the rest of io sees them.
 *
 * Each reactor thread serves whole sessions and runs their events while
 * it holds its own lock, which it leaves only while it waits for events.
 * A reactor runs READ, WRITE and TEST UNIT READY, Data-Out, NOP-Out and
 * its connections' input and output alongside the others: what they
 * share is locked where it lives (LUN state, the I/O threads' queues,
 * the fence's parked commands) or atomic (LUN references).  Everything
 * else may touch another reactor's sessions or state they all read (a
 * task management function, a reservation, a close, a login, a reload,
 * a sanitize, the once-a-second tick): it first calls io_exclusive, which
 * stops every other reactor at a point where it holds no task, until
 * the caller's batch of events ends.
 *
 * So io_exclusive may only be called where the caller holds no pointer
 * that another reactor's task management could free: at the start of a
 * PDU, of a job's completion, or of a close (whose callers check
 * conn_dead afterwards, as they did before).
 */
#ifndef IETD_REACTOR_H
#define IETD_REACTOR_H

#include <stdbool.h>

void	io_exclusive(void);
/* Does the calling thread run alone (io_exclusive, or one reactor)? */
bool	io_alone(void);

#endif
