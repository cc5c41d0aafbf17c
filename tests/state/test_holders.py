"""An upload's lease names the process that holds it, also in workers forked after import."""

import multiprocessing
import os

from mocksrv.services.promotions.holders import dead, holder


def _child(out):
    out.put((os.getpid(), holder(), dead(holder())))


def test_a_forked_worker_holds_leases_under_its_own_name_and_a_gone_one_is_dead():
    mine = holder()
    queue = multiprocessing.get_context("fork").Queue()
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(queue,))
    proc.start()
    pid, theirs, dead_while_running = queue.get(timeout=30)
    proc.join(timeout=30)
    assert f":{pid}:" in theirs and theirs != mine
    assert not dead_while_running and not dead(mine)
    assert dead(theirs)  # the child has exited
