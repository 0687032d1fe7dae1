package org.tscvm.replay;

import org.tscvm.machine.InputJournal;

/**
 * {@code --record}: every byte COM1's receiver takes and every monitor action goes to the log,
 * at the pass it took effect.
 */
public final class InputRecorder implements InputJournal {
    private final ReplayLog.Writer log;
    private Point endedAt;

    public InputRecorder(ReplayLog.Writer log) {
        this.log = log;
    }

    @Override
    public boolean replaying() {
        return false;
    }

    @Override
    public MonitorAction dueAction(Point p) {
        return null;
    }

    @Override
    public void acted(Point p, MonitorAction action) {
        log.monitor(p, action);
    }

    @Override
    public byte[] due(Point p) {
        return null;
    }

    @Override
    public void delivered(Point p, byte[] taken, int offered) {
        log.serialIn(p, taken);
    }

    @Override
    public boolean moreInput() {
        return false;
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
        return null;
    }
}
