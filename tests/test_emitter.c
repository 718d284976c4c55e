/*
 * test_emitter.c -- unit tests for the event emitter (common/emitter.c):
 * call order, return values, once/off/off_all, changes made by handlers
 * while an emit is running, nested emits, listener counts, rejection of
 * bad arguments, and freeing/reuse of the hook array; 65536 nested emits
 * (past any 16-bit counter) then pf_off_all, on/off churn inside one emit,
 * the cap on live hooks, and the owner pinned for the whole of an emit.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/emitter.h"

#define MAXREC		64
#define NIDS		16
#define MANY		1000

/* What the handlers saw, in call order. */
struct rec {
	int		 id[MAXREC];
	void		*self[MAXREC];
	const struct pf_event_arg *arg[MAXREC];
	struct pf_event_arg copy[MAXREC];
	int		 n;
};

/* What the "acting" handlers do while an emit is running. */
struct act {
	struct pf_emitter *em;
	int		 event;		/* event to remove, emit, add to */
	pf_handler	 fn;
	void		*udata;
	int		 rc;		/* return of the last pf_off/pf_on */
	int		 rc2;		/* return of a nested pf_emit */
	int		 runs;
	int		 limit;
};

static struct rec	rec;
static struct act	act;
static int		ids[NIDS];
static int		owner, owner2;

#define ID(k)	(&ids[(k)])

static void
record(int id, void *self, const struct pf_event_arg *ev)
{
	assert_true(rec.n < MAXREC);
	rec.id[rec.n] = id;
	rec.self[rec.n] = self;
	rec.arg[rec.n] = ev;
	if (ev != NULL)
		rec.copy[rec.n] = *ev;
	rec.n++;
}

static void
h_rec(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(*(int *)udata, self, ev);
}

/* Same as h_rec, a different function: ids are offset by 100. */
static void
h_rec2(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(100 + *(int *)udata, self, ev);
}

/* Counts without recording, for handlers registered by the thousand. */
static int	counted;

static void
h_count(void *self, const struct pf_event_arg *ev, void *udata)
{
	counted++;
}

/* Records as id 50, then removes act.(event, fn, udata). */
static void
h_remover(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(50, self, ev);
	act.rc = pf_off(act.em, act.event, act.fn, act.udata);
	act.runs++;
}

/* Records as id 51, then removes itself (udata is its own udata). */
static void
h_self_off(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(51, self, ev);
	act.rc = pf_off(act.em, act.event, h_self_off, udata);
	act.runs++;
}

/* Records as id 52, then pf_off_all(act.em, act.event). */
static void
h_off_all(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(52, self, ev);
	pf_off_all(act.em, act.event);
	act.runs++;
}

/* Records as id 53, then adds act.(event, fn, udata) the first time. */
static void
h_adder(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(53, self, ev);
	if (act.runs++ == 0)
		act.rc = pf_on(act.em, act.event, act.fn, act.udata);
}

/* Records as id 54, then adds MANY h_count hooks the first time. */
static void
h_add_many(void *self, const struct pf_event_arg *ev, void *udata)
{
	int	i;

	record(54, self, ev);
	if (act.runs++ != 0)
		return;
	for (i = 0; i < MANY; i++) {
		if (pf_on(act.em, act.event, h_count, NULL) != 0)
			act.rc = -1;
	}
}

/* Records as id 55, then emits act.event up to act.limit times deep. */
static void
h_emitter(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(55, self, ev);
	if (act.runs++ < act.limit)
		act.rc2 = pf_emit(act.em, act.event, NULL);
}

/*
 * Records as id 56, removes act.fn/act.udata on PF_EV_DATA, emits
 * PF_EV_END (whose handler is a once hook), then checks that nothing was
 * swept while the outer emit is still running.
 */
static uint32_t	 n_during, dead_during;
static size_t	 count_during;

static void
h_off_then_nest(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(56, self, ev);
	act.rc = pf_off(act.em, PF_EV_DATA, act.fn, act.udata);
	act.rc2 = pf_emit(act.em, PF_EV_END, NULL);
	n_during = act.em->n;
	dead_during = act.em->dead;
	count_during = pf_listener_count(act.em, PF_EV_DATA);
}

/* A once hook that emits its own event again from inside itself. */
static void
h_once_reenter(void *self, const struct pf_event_arg *ev, void *udata)
{
	record(57, self, ev);
	act.rc2 = pf_emit(act.em, act.event, NULL);
	/* It has fired: it is no longer registered. */
	act.rc = pf_off(act.em, act.event, h_once_reenter, udata);
}

static int
setup(void **state)
{
	struct pf_emitter	*em;
	int			 i;

	if ((em = calloc(1, sizeof(*em))) == NULL)
		return -1;
	emitter_init(em, &owner);
	memset(&rec, 0, sizeof(rec));
	memset(&act, 0, sizeof(act));
	act.em = em;
	counted = 0;
	for (i = 0; i < NIDS; i++)
		ids[i] = i;
	*state = em;
	return 0;
}

static int
teardown(void **state)
{
	struct pf_emitter	*em = *state;

	assert_int_equal(em->depth, 0);
	emitter_clear(em);
	free(em);
	return 0;
}

static void
test_registration_order(void **state)
{
	struct pf_emitter	*em = *state;

	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(2)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec2, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(3)), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 4);
	assert_int_equal(rec.n, 4);
	assert_int_equal(rec.id[0], 2);
	assert_int_equal(rec.id[1], 0);
	assert_int_equal(rec.id[2], 101);
	assert_int_equal(rec.id[3], 3);

	/* The order is stable across emits. */
	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 4);
	assert_int_equal(rec.id[0], 2);
	assert_int_equal(rec.id[1], 0);
	assert_int_equal(rec.id[2], 101);
	assert_int_equal(rec.id[3], 3);
}

static void
test_emit_counts_and_targets(void **state)
{
	struct pf_emitter	*em = *state;

	/* Nothing registered at all. */
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);
	assert_int_equal(rec.n, 0);

	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(2)), 0);

	/* An event nobody listens to, while others have listeners. */
	assert_int_equal(pf_emit(em, PF_EV_CLOSE, NULL), 0);
	assert_int_equal(rec.n, 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 0);
	assert_int_equal(rec.id[1], 2);

	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.id[0], 1);
}

static void
test_self_and_arg(void **state)
{
	struct pf_emitter	*em = *state;
	struct pf_event_arg	 a;
	static const char	 buf[] = "hello";

	memset(&a, 0, sizeof(a));
	a.data = buf;
	a.len = sizeof(buf) - 1;
	a.code = 42;
	a.msg = "message";
	a.conn = (struct pf_conn *)&owner2;

	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, &a), 2);
	assert_int_equal(rec.n, 2);
	assert_ptr_equal(rec.self[0], &owner);
	assert_ptr_equal(rec.self[1], &owner);
	assert_ptr_equal(rec.arg[0], &a);
	assert_ptr_equal(rec.arg[1], &a);
	assert_ptr_equal(rec.copy[0].data, buf);
	assert_int_equal(rec.copy[0].len, 5);
	assert_int_equal(rec.copy[0].code, 42);
	assert_string_equal(rec.copy[0].msg, "message");
	assert_ptr_equal(rec.copy[0].conn, &owner2);

	/* No arg: handlers still get one, all zero. */
	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(rec.n, 2);
	assert_non_null(rec.arg[0]);
	assert_null(rec.copy[0].data);
	assert_int_equal(rec.copy[0].len, 0);
	assert_int_equal(rec.copy[0].code, 0);
	assert_null(rec.copy[0].msg);
	assert_null(rec.copy[0].conn);
	assert_ptr_equal(rec.self[0], &owner);
}

static void
test_owner_other(void **state)
{
	struct pf_emitter	em2;

	/* self is whatever the emitter was initialised with. */
	emitter_init(&em2, &owner2);
	assert_int_equal(pf_on(&em2, PF_EV_START, h_rec, ID(0)), 0);
	assert_int_equal(pf_emit(&em2, PF_EV_START, NULL), 1);
	assert_ptr_equal(rec.self[0], &owner2);
	emitter_clear(&em2);

	emitter_init(&em2, NULL);
	assert_int_equal(pf_on(&em2, PF_EV_STOP, h_rec, ID(1)), 0);
	assert_int_equal(pf_emit(&em2, PF_EV_STOP, NULL), 1);
	assert_int_equal(rec.n, 2);
	assert_null(rec.self[1]);
	emitter_clear(&em2);
}

static void
test_once(void **state)
{
	struct pf_emitter	*em = *state;

	assert_int_equal(pf_once(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 0);
	assert_int_equal(rec.id[1], 1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 1);

	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 1);
	assert_int_equal(rec.id[1], 1);

	/* Nothing left to remove for the once hook. */
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(0)), -1);

	/* A once hook alone: its event goes quiet afterwards. */
	assert_int_equal(pf_once(em, PF_EV_END, h_rec, ID(2)), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 0);

	/* A once hook can be removed before it fires. */
	rec.n = 0;
	assert_int_equal(pf_once(em, PF_EV_CLOSE, h_rec, ID(3)), 0);
	assert_int_equal(pf_off(em, PF_EV_CLOSE, h_rec, ID(3)), 0);
	assert_int_equal(pf_emit(em, PF_EV_CLOSE, NULL), 0);
	assert_int_equal(rec.n, 0);
}

static void
test_once_reentrant(void **state)
{
	struct pf_emitter	*em = *state;

	/* The once hook emits its own event: it must not run again. */
	act.event = PF_EV_DATA;
	act.rc = act.rc2 = 99;
	assert_int_equal(pf_once(em, PF_EV_DATA, h_once_reenter, ID(0)), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(act.rc2, 0);
	assert_int_equal(act.rc, -1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);
	assert_int_equal(rec.n, 1);
}

static void
test_off(void **state)
{
	struct pf_emitter	*em = *state;

	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec2, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(0)), 0);

	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 1);

	/* Same fn other udata, other fn same udata, other event: kept. */
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 1);
	assert_int_equal(rec.id[1], 100);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(rec.id[2], 0);

	/* Nothing matches any more, or never did. */
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(0)), -1);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(5)), -1);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_count, ID(1)), -1);
	assert_int_equal(pf_off(em, PF_EV_CLOSE, h_rec, ID(1)), -1);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, NULL), -1);
	assert_int_equal(pf_off(em, -1, h_rec, ID(1)), -1);
	assert_int_equal(pf_off(em, PF_EV_MAX_, h_rec, ID(1)), -1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 1);

	/* Remove the rest: the emitter goes quiet. */
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec2, ID(0)), 0);
	assert_int_equal(pf_off(em, PF_EV_END, h_rec, ID(0)), 0);
	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 0);
	assert_int_equal(rec.n, 0);
	assert_int_equal(em->n, 0);
}

static void
test_off_duplicate(void **state)
{
	struct pf_emitter	*em = *state;

	/* The same registration twice: pf_off removes one at a time. */
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(7)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(7)), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(7)), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 1);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(7)), 0);
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(7)), -1);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);
	assert_int_equal(rec.n, 1);
}

static void
test_off_later_during_emit(void **state)
{
	struct pf_emitter	*em = *state;

	act.event = PF_EV_DATA;
	act.fn = h_rec;
	act.udata = ID(1);
	act.rc = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_remover, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(2)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(3)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.rc, 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 50);
	assert_int_equal(rec.id[1], 2);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 1);
	assert_int_equal(em->n, 3);
	assert_int_equal(em->dead, 0);

	/* Later emits see a consistent emitter. */
	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.rc, -1);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 50);
	assert_int_equal(rec.id[1], 2);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(rec.id[2], 3);
}

static void
test_off_self_during_emit(void **state)
{
	struct pf_emitter	*em = *state;

	act.event = PF_EV_DATA;
	act.rc = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_self_off, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(2)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 3);
	assert_int_equal(act.rc, 0);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.id[0], 0);
	assert_int_equal(rec.id[1], 51);
	assert_int_equal(rec.id[2], 2);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);

	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.runs, 1);
	assert_int_equal(rec.id[0], 0);
	assert_int_equal(rec.id[1], 2);
}

static void
test_off_all_event_during_emit(void **state)
{
	struct pf_emitter	*em = *state;

	act.event = PF_EV_DATA;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_off_all, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_once(em, PF_EV_DATA, h_rec, ID(2)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(3)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 0);
	assert_int_equal(rec.id[1], 52);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 1);
	assert_int_equal(em->n, 1);

	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.id[0], 3);

	/* And pf_off_all outside an emit: swept at once. */
	pf_off_all(em, PF_EV_END);
	assert_int_equal(em->n, 0);
	assert_int_equal(em->dead, 0);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 0);
	/* Of an event with no hooks: harmless. */
	pf_off_all(em, PF_EV_CLOSE);
	assert_int_equal(em->n, 0);
}

static void
test_off_all_during_emit(void **state)
{
	struct pf_emitter	*em = *state;
	int			 ev;

	act.event = -1;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_off_all, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(2)), 0);
	assert_int_equal(pf_once(em, PF_EV_CLOSE, h_rec, ID(3)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.id[0], 52);
	for (ev = 0; ev < PF_EV_MAX_; ev++) {
		assert_int_equal(pf_listener_count(em, ev), 0);
		assert_int_equal(pf_emit(em, ev, NULL), 0);
	}
	assert_int_equal(rec.n, 1);
	assert_int_equal(em->n, 0);
	assert_int_equal(em->dead, 0);

	/* Usable again afterwards. */
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(4)), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(rec.id[1], 4);

	/* pf_off_all(-1) outside an emit. */
	pf_off_all(em, -1);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 0);
	assert_int_equal(rec.n, 2);
}

static void
test_on_during_emit(void **state)
{
	struct pf_emitter	*em = *state;

	act.event = PF_EV_DATA;
	act.fn = h_rec;
	act.udata = ID(9);
	act.rc = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_adder, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.rc, 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 53);
	assert_int_equal(rec.id[1], 1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 3);

	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 3);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.id[0], 53);
	assert_int_equal(rec.id[1], 1);
	assert_int_equal(rec.id[2], 9);
}

static void
test_on_other_event_during_emit(void **state)
{
	struct pf_emitter	*em = *state;

	/* A hook added for an event nobody listened to must take effect. */
	act.event = PF_EV_END;
	act.fn = h_rec;
	act.udata = ID(4);
	act.rc = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_adder, NULL), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(act.rc, 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[1], 4);
}

static void
test_on_many_during_emit(void **state)
{
	struct pf_emitter	*em = *state;

	/* Four hooks fill the first allocation (two of another event); the
	 * adder forces reallocs. */
	act.event = PF_EV_DATA;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_add_many, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(7)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(8)), 0);
	assert_int_equal(em->n, em->cap);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.rc, 0);
	assert_int_equal(counted, 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 54);
	assert_int_equal(rec.id[1], 1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), MANY + 2);

	rec.n = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), MANY + 2);
	assert_int_equal(counted, MANY);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 54);
	assert_int_equal(rec.id[1], 1);
}

static void
test_nested_emit(void **state)
{
	struct pf_emitter	*em = *state;

	/* A DATA handler emits END from inside. */
	act.event = PF_EV_END;
	act.limit = 1;
	act.rc2 = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_emitter, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_rec, ID(2)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.rc2, 1);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.id[0], 55);
	assert_int_equal(rec.id[1], 2);		/* inner emit first */
	assert_int_equal(rec.id[2], 1);
	assert_int_equal(em->depth, 0);
}

static void
test_nested_emit_same_event(void **state)
{
	struct pf_emitter	*em = *state;
	int			 i;

	/* Recursion on the same event, three levels deep. */
	act.event = PF_EV_DATA;
	act.limit = 3;
	act.rc2 = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_emitter, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.runs, 4);
	assert_int_equal(rec.n, 8);
	for (i = 0; i < 4; i++)
		assert_int_equal(rec.id[i], 55);
	for (i = 4; i < 8; i++)
		assert_int_equal(rec.id[i], 1);
	assert_int_equal(em->depth, 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
}

static void
test_nested_sweep_after_outermost(void **state)
{
	struct pf_emitter	*em = *state;

	/*
	 * DATA: [off_then_nest, rec 1, rec 2]; END: [once rec 3].
	 * The first handler removes "rec 1" and emits END (killing the once
	 * hook) from inside: neither removal may compact the array under
	 * the running outer emit, so "rec 2" is called once, "rec 1" never.
	 */
	act.fn = h_rec;
	act.udata = ID(1);
	act.rc = act.rc2 = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_off_then_nest, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(2)), 0);
	assert_int_equal(pf_once(em, PF_EV_END, h_rec, ID(3)), 0);

	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.rc, 0);
	assert_int_equal(act.rc2, 1);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.id[0], 56);
	assert_int_equal(rec.id[1], 3);
	assert_int_equal(rec.id[2], 2);

	/* Inside: nothing swept yet, but the counts already exclude them. */
	assert_int_equal(n_during, 4);
	assert_int_equal(dead_during, 2);
	assert_int_equal(count_during, 2);

	/* After the outermost emit: swept. */
	assert_int_equal(em->n, 2);
	assert_int_equal(em->dead, 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 0);
}

static void
test_mask_tracks_live_events(void **state)
{
	struct pf_emitter	*em = *state;

	/* The mask is what makes emitting an unheard event cheap. */
	assert_int_equal(em->mask, 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_once(em, PF_EV_END, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(em, PF_EV_CLOSE, h_rec, ID(2)), 0);
	assert_int_equal(em->mask, (1u << PF_EV_DATA) | (1u << PF_EV_END) |
	    (1u << PF_EV_CLOSE));

	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
	assert_int_equal(em->mask, (1u << PF_EV_DATA) | (1u << PF_EV_CLOSE));
	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(em->mask, 1u << PF_EV_CLOSE);
	pf_off_all(em, PF_EV_CLOSE);
	assert_int_equal(em->mask, 0);
	assert_int_equal(em->n, 0);
	assert_null(em->hooks);
}

static void
test_listener_count(void **state)
{
	struct pf_emitter	*em = *state;
	int			 ev;

	for (ev = 0; ev < PF_EV_MAX_; ev++)
		assert_int_equal(pf_listener_count(em, ev), 0);

	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_once(em, PF_EV_DATA, h_rec, ID(2)), 0);
	assert_int_equal(pf_on(em, PF_EV_CLOSE, h_rec, ID(3)), 0);
	assert_int_equal(pf_once(em, PF_EV_ERROR, h_rec, ID(4)), 0);

	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 3);
	assert_int_equal(pf_listener_count(em, PF_EV_CLOSE), 1);
	assert_int_equal(pf_listener_count(em, PF_EV_ERROR), 1);
	assert_int_equal(pf_listener_count(em, PF_EV_END), 0);
	assert_int_equal(pf_listener_count(em, -1), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_MAX_), 0);

	assert_int_equal(pf_off(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 1);
	assert_int_equal(pf_emit(em, PF_EV_ERROR, NULL), 1);
	assert_int_equal(pf_listener_count(em, PF_EV_ERROR), 0);
	assert_int_equal(pf_listener_count(em, PF_EV_CLOSE), 1);
}

static void
test_invalid_args(void **state)
{
	struct pf_emitter	*em = *state;

	assert_int_equal(pf_on(em, -1, h_rec, ID(0)), -1);
	assert_int_equal(pf_on(em, PF_EV_MAX_, h_rec, ID(0)), -1);
	assert_int_equal(pf_on(em, 255, h_rec, ID(0)), -1);
	assert_int_equal(pf_on(em, PF_EV_MAX_ + 256, h_rec, ID(0)), -1);
	assert_int_equal(pf_on(em, PF_EV_DATA, NULL, ID(0)), -1);
	assert_int_equal(pf_once(em, -1, h_rec, ID(0)), -1);
	assert_int_equal(pf_once(em, PF_EV_MAX_, h_rec, ID(0)), -1);
	assert_int_equal(pf_once(em, PF_EV_DATA, NULL, ID(0)), -1);
	assert_int_equal(em->n, 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 0);

	/* An event id that wraps to a valid one must not reach its hooks. */
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_emit(em, -1, NULL), 0);
	assert_int_equal(pf_emit(em, PF_EV_MAX_, NULL), 0);
	assert_int_equal(pf_emit(em, 256 + PF_EV_DATA, NULL), 0);
	assert_int_equal(pf_emit(em, 32 + PF_EV_DATA, NULL), 0);
	assert_int_equal(pf_emit(em, 1000, NULL), 0);
	assert_int_equal(rec.n, 0);
	assert_int_equal(pf_listener_count(em, 256 + PF_EV_DATA), 0);
	assert_int_equal(pf_off(em, 256 + PF_EV_DATA, h_rec, ID(0)), -1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 1);
}

static void
test_clear_and_reuse(void **state)
{
	struct pf_emitter	*em = *state;
	int			 i;

	for (i = 0; i < 10; i++)
		assert_int_equal(pf_on(em, i % PF_EV_MAX_, h_rec, ID(i)), 0);
	assert_int_equal(pf_once(em, PF_EV_DATA, h_rec, ID(11)), 0);
	assert_non_null(em->hooks);

	emitter_clear(em);
	assert_null(em->hooks);
	assert_int_equal(em->n, 0);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);
	assert_int_equal(rec.n, 0);
	/* Clearing twice is harmless. */
	emitter_clear(em);

	emitter_init(em, &owner2);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_once(em, PF_EV_DATA, h_rec, ID(2)), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[0], 1);
	assert_int_equal(rec.id[1], 2);
	assert_ptr_equal(rec.self[0], &owner2);
	/* teardown clears again; ASan reports any leak. */
}

static void
test_capacity_limit(void **state)
{
	struct pf_emitter	*em = *state;
	long			 i, ok = 0;

	/* At most EMITTER_MAX_HOOKS live hooks: refuse, never wrap. */
	for (i = 0; i < UINT16_MAX; i++) {
		if (pf_on(em, PF_EV_DATA, h_count, NULL) == 0)
			ok++;
	}
	assert_int_equal(ok, UINT16_MAX);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_count, NULL), -1);
	assert_int_equal(pf_once(em, PF_EV_END, h_count, NULL), -1);
	assert_int_equal(pf_listener_count(em, PF_EV_DATA), UINT16_MAX);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), UINT16_MAX);
	assert_int_equal(counted, UINT16_MAX);

	/* Room again after one goes. */
	assert_int_equal(pf_off(em, PF_EV_DATA, h_count, NULL), 0);
	assert_int_equal(pf_on(em, PF_EV_END, h_count, NULL), 0);
	assert_int_equal(pf_emit(em, PF_EV_END, NULL), 1);
}

static void
test_error_without_listener(void **state)
{
	struct pf_emitter	*em = *state;
	struct pf_event_arg	 a;

	memset(&a, 0, sizeof(a));
	a.code = ECONNRESET;
	a.msg = "connection reset";

	/* Other events listened to, not "error": 0, the caller's default. */
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(0)), 0);
	assert_int_equal(pf_on(em, PF_EV_CLOSE, h_rec, ID(1)), 0);
	assert_int_equal(pf_emit(em, PF_EV_ERROR, &a), 0);
	assert_int_equal(rec.n, 0);

	assert_int_equal(pf_on(em, PF_EV_ERROR, h_rec, ID(2)), 0);
	assert_int_equal(pf_emit(em, PF_EV_ERROR, &a), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.id[0], 2);
	assert_int_equal(rec.copy[0].code, ECONNRESET);
	assert_string_equal(rec.copy[0].msg, "connection reset");

	/* Removed again: back to 0. */
	assert_int_equal(pf_off(em, PF_EV_ERROR, h_rec, ID(2)), 0);
	assert_int_equal(pf_emit(em, PF_EV_ERROR, &a), 0);
	assert_int_equal(rec.n, 1);
}


/*
 * Nesting past 16 bits.  The handler emits its own event from inside
 * itself DEEP - 1 times, so DEEP emits run at once; the innermost then
 * removes every hook.  A counter that wrapped to 0 there would sweep (free)
 * the array under the DEEP - 1 emits still walking it.  The recursion runs
 * on a thread with a stack big enough for it under a sanitizer too.
 */
#define DEEP		65536
#define DEEP_STACK	((size_t)512 << 20)

struct deep {
	struct pf_emitter	*em;
	uint32_t		 level;
	uint32_t		 max_depth;
	uint32_t		 bad;	/* inner emits that did not call 1 */
	uint32_t		 after;	/* calls of the hook after h_deep */
	size_t			 count_inside;
};

static void
h_deep(void *self, const struct pf_event_arg *ev, void *udata)
{
	struct deep	*d = udata;

	if (d->em->depth > d->max_depth)
		d->max_depth = d->em->depth;
	if (++d->level < DEEP) {
		if (pf_emit(d->em, PF_EV_DATA, NULL) != 1)
			d->bad++;
		return;
	}
	pf_off_all(d->em, -1);
	d->count_inside = pf_listener_count(d->em, PF_EV_DATA);
}

static void
h_deep_after(void *self, const struct pf_event_arg *ev, void *udata)
{
	struct deep	*d = udata;

	d->after++;
}

static void *
deep_thread(void *arg)
{
	struct deep	*d = arg;

	if (pf_emit(d->em, PF_EV_DATA, NULL) != 1)
		d->bad++;
	return NULL;
}

static void
run_on_big_stack(void *(*fn)(void *), void *arg)
{
	pthread_attr_t	attr;
	pthread_t	t;

	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, DEEP_STACK), 0);
	assert_int_equal(pthread_create(&t, &attr, fn, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_attr_destroy(&attr), 0);
}

static void
test_deep_nesting_then_off_all(void **state)
{
	struct pf_emitter	*em = *state;
	struct deep		 d;

	memset(&d, 0, sizeof(d));
	d.em = em;
	d.count_inside = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_deep, &d), 0);
	assert_int_equal(pf_on(em, PF_EV_DATA, h_deep_after, &d), 0);

	run_on_big_stack(deep_thread, &d);
	assert_int_equal(d.level, DEEP);
	assert_int_equal(d.max_depth, DEEP);
	assert_int_equal(d.bad, 0);
	assert_int_equal(d.count_inside, 0);
	/* Removed by the innermost emit before any emit reached it. */
	assert_int_equal(d.after, 0);
	/* Swept once, by the outermost. */
	assert_int_equal(em->depth, 0);
	assert_int_equal(em->n, 0);
	assert_int_equal(em->dead, 0);
	assert_null(em->hooks);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 0);

	/* And the emitter works as before. */
	assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(rec.n, 1);
}

static void
test_depth_limit_refuses(void **state)
{
	struct pf_emitter	*em = *state;

	/* As if EMITTER_MAX_DEPTH - 1 emits were running: one more runs,
	 * the one nested in it is refused and calls nothing. */
	act.event = PF_EV_DATA;
	act.limit = 1;
	act.rc2 = 99;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_emitter, NULL), 0);
	em->depth = EMITTER_MAX_DEPTH - 1;
	errno = 0;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(act.rc2, -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(act.runs, 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(em->depth, EMITTER_MAX_DEPTH - 1);
	/* Back from the brink: nesting works again. */
	em->depth = 0;
	act.limit = 2;
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 1);
	assert_int_equal(act.runs, 3);
	assert_int_equal(act.rc2, 1);
}

/*
 * on/off churn inside one emit: removed hooks are not swept until the
 * emit returns, yet must neither count toward the cap nor pile up.
 */
#define CHURN	70000

struct churn {
	struct pf_emitter	*em;
	int			 mode;	/* 0: on X, off X; 1: on X, off prev */
	long			 ok;
	uint32_t		 max_cap;
};

static void
h_churn(void *self, const struct pf_event_arg *ev, void *udata)
{
	struct churn	*ch = udata;
	long		 i;

	for (i = 0; i < CHURN; i++) {
		void	*u = &ids[i % NIDS];
		void	*prev = &ids[(i + NIDS - 1) % NIDS];

		if (pf_on(ch->em, PF_EV_END, h_count, u) != 0)
			continue;
		if (ch->mode == 0 &&
		    pf_off(ch->em, PF_EV_END, h_count, u) != 0)
			continue;
		if (ch->mode == 1 && i > 0 &&
		    pf_off(ch->em, PF_EV_END, h_count, prev) != 0)
			continue;
		if (ch->em->cap > ch->max_cap)
			ch->max_cap = ch->em->cap;
		ch->ok++;
	}
}

static void
test_churn_in_emit(void **state)
{
	struct pf_emitter	*em = *state;
	struct churn		 ch;
	int			 mode;

	for (mode = 0; mode < 2; mode++) {
		memset(&ch, 0, sizeof(ch));
		ch.em = em;
		ch.mode = mode;
		assert_int_equal(pf_on(em, PF_EV_DATA, h_churn, &ch), 0);
		assert_int_equal(pf_on(em, PF_EV_DATA, h_rec, ID(1)), 0);
		rec.n = 0;
		assert_int_equal(pf_emit(em, PF_EV_DATA, NULL), 2);
		assert_int_equal(ch.ok, CHURN);
		/* Bounded: the dead hooks nobody walks were reclaimed. */
		assert_true(ch.max_cap <= 16);
		assert_int_equal(rec.n, 1);
		assert_int_equal(em->dead, 0);
		/* What is left: the two DATA hooks, and in mode 1 the last
		 * END hook added. */
		assert_int_equal(pf_listener_count(em, PF_EV_DATA), 2);
		assert_int_equal(pf_listener_count(em, PF_EV_END),
		    (size_t)mode);
		counted = 0;
		assert_int_equal(pf_emit(em, PF_EV_END, NULL), mode);
		assert_int_equal(counted, mode);
		pf_off_all(em, -1);
		assert_null(em->hooks);
	}
}

/* At the cap: removing one inside an emit makes room at once. */
struct atcap {
	struct pf_emitter	*em;
	int			 full;	/* pf_on refused while full */
	long			 ok;
};

#define ATCAP_CHURN	300

static void
h_atcap(void *self, const struct pf_event_arg *ev, void *udata)
{
	struct atcap	*a = udata;
	long		 i;

	a->full = pf_on(a->em, PF_EV_END, h_rec, ID(3)) == -1 &&
	    errno == ENOSPC;
	for (i = 0; i < ATCAP_CHURN; i++) {
		if (pf_off(a->em, PF_EV_DATA, h_count, NULL) != 0)
			break;
		if (pf_on(a->em, PF_EV_END, h_count, NULL) != 0)
			break;
		/* Full again. */
		if (pf_on(a->em, PF_EV_END, h_count, NULL) != -1)
			break;
		a->ok++;
	}
}

static void
test_cap_counts_live_hooks(void **state)
{
	struct pf_emitter	*em = *state;
	struct atcap		 a;
	long			 i;

	memset(&a, 0, sizeof(a));
	a.em = em;
	assert_int_equal(pf_on(em, PF_EV_DATA, h_atcap, &a), 0);
	for (i = 1; i < EMITTER_MAX_HOOKS; i++)
		assert_int_equal(pf_on(em, PF_EV_DATA, h_count, NULL), 0);
	counted = 0;
	/* The handler removes the first ATCAP_CHURN h_count hooks before
	 * the emit reaches them. */
	assert_int_equal(pf_emit(em, PF_EV_DATA, NULL),
	    EMITTER_MAX_HOOKS - ATCAP_CHURN);
	assert_int_equal(a.full, 1);
	assert_int_equal(a.ok, ATCAP_CHURN);
	assert_int_equal(counted, EMITTER_MAX_HOOKS - 1 - ATCAP_CHURN);
	assert_int_equal(em->n, EMITTER_MAX_HOOKS);
	assert_int_equal(em->dead, 0);
	assert_int_equal(pf_listener_count(em, PF_EV_END), ATCAP_CHURN);
}

/*
 * The pin: held for the whole of every emit, let go last (after the
 * sweep), and free to destroy the owner -- and the emitter in it -- then.
 */
struct pinned {
	struct pf_emitter	 em;
	uint32_t		 holds;
	int			 unpinned;
	int			 destroyed;	/* asked for by a handler */
	int			*freed;
	uint32_t		 n_at_unpin;
};

static void
pin_unpinned(void *o)
{
	struct pinned	*p = o;

	p->unpinned++;
	p->n_at_unpin = p->em.n;
	if (!p->destroyed)
		return;
	*p->freed = 1;
	emitter_clear(&p->em);
	free(p);
}

/* "Destroys" the owner: with no pin, freeing it here would pull the
 * emitter from under the emit. */
static void
h_destroy(void *self, const struct pf_event_arg *ev, void *udata)
{
	struct pinned	*p = self;

	p->destroyed = 1;
	record(58, self, ev);
	act.runs = (int)p->holds;
}

static void
test_pin_held_through_emit(void **state)
{
	struct pinned	*p;
	int		 freed = 0;

	(void)state;
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->freed = &freed;
	emitter_init(&p->em, p);
	emitter_set_pin(&p->em, &p->holds, pin_unpinned);

	/* Nobody listens: nothing held. */
	assert_int_equal(pf_emit(&p->em, PF_EV_DATA, NULL), 0);
	assert_int_equal(pf_on(&p->em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_once(&p->em, PF_EV_END, h_rec, ID(2)), 0);

	/* Held as far as it goes: refused, no handler runs. */
	p->holds = UINT32_MAX;
	errno = 0;
	assert_int_equal(pf_emit(&p->em, PF_EV_DATA, NULL), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(rec.n, 0);
	assert_int_equal(p->holds, UINT32_MAX);

	/* Held by someone else (the owner's own dispatch): let go, but
	 * not unpinned. */
	p->holds = 1;
	assert_int_equal(pf_emit(&p->em, PF_EV_DATA, NULL), 1);
	assert_int_equal(p->holds, 1);
	assert_int_equal(p->unpinned, 0);
	p->holds = 0;
	assert_int_equal(pf_emit(&p->em, PF_EV_DATA, NULL), 1);
	assert_int_equal(p->holds, 0);
	assert_int_equal(p->unpinned, 1);
	/* The once hook was swept before the unpin. */
	assert_int_equal(pf_emit(&p->em, PF_EV_END, NULL), 1);
	assert_int_equal(p->n_at_unpin, 1);
	assert_int_equal(p->unpinned, 2);

	/* A handler destroys the owner; a later hook still runs, and the
	 * free happens on the unpin, after the emit is done with em. */
	assert_int_equal(pf_off(&p->em, PF_EV_DATA, h_rec, ID(1)), 0);
	assert_int_equal(pf_on(&p->em, PF_EV_DATA, h_destroy, NULL), 0);
	assert_int_equal(pf_once(&p->em, PF_EV_DATA, h_rec, ID(3)), 0);
	rec.n = 0;
	assert_int_equal(pf_emit(&p->em, PF_EV_DATA, NULL), 2);
	assert_int_equal(act.runs, 1);	/* held while the handler ran */
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.id[1], 3);
	assert_int_equal(freed, 1);	/* and ASan saw no use after it */
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_registration_order),
		T(test_emit_counts_and_targets),
		T(test_self_and_arg),
		T(test_owner_other),
		T(test_once),
		T(test_once_reentrant),
		T(test_off),
		T(test_off_duplicate),
		T(test_off_later_during_emit),
		T(test_off_self_during_emit),
		T(test_off_all_event_during_emit),
		T(test_off_all_during_emit),
		T(test_on_during_emit),
		T(test_on_other_event_during_emit),
		T(test_on_many_during_emit),
		T(test_nested_emit),
		T(test_nested_emit_same_event),
		T(test_nested_sweep_after_outermost),
		T(test_mask_tracks_live_events),
		T(test_listener_count),
		T(test_invalid_args),
		T(test_clear_and_reuse),
		T(test_capacity_limit),
		T(test_error_without_listener),
		T(test_deep_nesting_then_off_all),
		T(test_depth_limit_refuses),
		T(test_churn_in_emit),
		T(test_cap_counts_live_hooks),
		T(test_pin_held_through_emit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
