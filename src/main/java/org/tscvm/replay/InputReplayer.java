package org.tscvm.replay;

import java.util.List;
import org.tscvm.machine.InputJournal;

/**
 * {@code --replay}: delivers each logged event (input bytes, monitor actions) at its pass, after checking that the run stands
 * where the recording stood (host clock, vCPU 0's and all retired instructions); the first
 * difference is the divergence, and the run stops there.
 */
public final class InputReplayer implements InputJournal {
    private final List<ReplayLog.Event> events;
    private final ReplayLog.End end;
    private int next;
    private String divergence;
    private Point endedAt;

    public InputReplayer(ReplayLog log) {
        this.events = log.events();
        this.end = log.end();
    }

    @Override
    public boolean replaying() {
        return true;
    }

    @Override
    public MonitorAction dueAction(Point p) {
        return at(p) instanceof ReplayLog.Monitor m ? m.action() : null;
    }

    @Override
    public void acted(Point p, MonitorAction action) {
        next++;
    }

    @Override
    public byte[] due(Point p) {
        return at(p) instanceof ReplayLog.SerialIn s ? s.bytes() : null;
    }

    /** The next event if it is due at {@code p}; null when none is, or the run diverged (noted). */
    private ReplayLog.Event at(Point p) {
        if (divergence != null || next == events.size()) {
            return null;
        }
        ReplayLog.Event e = events.get(next);
        if (p.pass() < e.at().pass()) {
            return null;
        }
        String where = "event " + (next + 1) + " (" + describe(e) + ")";
        if (p.pass() > e.at().pass()) {
            divergence = "the replay diverged before " + where + ": the run is at pass " + p.pass();
        } else if (!p.equals(e.at())) {
            divergence = "the replay diverged at " + where + ": " + mismatch(e.at(), p);
        }
        return divergence == null ? e : null;
    }

    private static String describe(ReplayLog.Event e) {
        String what = e instanceof ReplayLog.Monitor m ? "monitor " + m.action().command() : "serial-in";
        return what + " at pass " + e.at().pass();
    }

    @Override
    public void delivered(Point p, byte[] taken, int offered) {
        if (taken.length != offered) {
            divergence = "the replay diverged at event " + (next + 1) + " (serial-in at pass " + p.pass()
                    + "): COM1 took " + taken.length + " of the " + offered + " bytes it took when recorded";
        }
        next++;
    }

    @Override
    public boolean moreInput() {
        return next < events.size();
    }

    @Override
    public void ended(Point p) {
        endedAt = p;
    }

    /** Where the run ended (null before it did). */
    public Point endedAt() {
        return endedAt;
    }

    @Override
    public String divergence() {
        return divergence;
    }

    /**
     * After the run: the divergence, if any, including an end that differs from the
     * recording's (input left over, another instruction count, exit status or digest); null
     * when the replay repeated the recording bit for bit.
     */
    public String checkEnd(ReplayLog.End actual) {
        if (divergence != null) {
            return divergence;
        }
        if (next < events.size()) {
            return "the replay diverged: the run ended at pass " + actual.at().pass() + " (" + counts(actual.at())
                    + ") before event " + (next + 1) + " of " + events.size() + " (" + describe(events.get(next)) + ")";
        }
        if (!actual.at().equals(end.at())) {
            return "the replay diverged at the end of the run: " + mismatch(end.at(), actual.at());
        }
        if (actual.exitStatus() != end.exitStatus()) {
            return "the replay diverged at the end of the run (" + counts(actual.at()) + "): exit status "
                    + actual.exitStatus() + ", recorded " + end.exitStatus();
        }
        if (!actual.serialSha256().equals(end.serialSha256())) {
            return "the replay diverged at the end of the run (" + counts(actual.at())
                    + "): the serial output differs from the recording's (SHA-256 " + actual.serialSha256()
                    + ", recorded " + end.serialSha256() + ")";
        }
        if (!actual.stateSha256().equals(end.stateSha256())) {
            return "the replay diverged at the end of the run (" + counts(actual.at())
                    + "): the machine state differs from the recording's (SHA-256 " + actual.stateSha256()
                    + ", recorded " + end.stateSha256() + ")";
        }
        return null;
    }

    private static String mismatch(Point expected, Point found) {
        return "expected " + counts(expected) + " at pass " + expected.pass() + ", found " + counts(found)
                + " at pass " + found.pass();
    }

    private static String counts(Point p) {
        return "host clock " + p.hostTsc() + ", vCPU 0 retired " + p.vcpu0Retired() + " instructions, all vCPUs "
                + p.totalRetired();
    }
}
