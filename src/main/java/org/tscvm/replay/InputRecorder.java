package org.tscvm.replay;

import org.tscvm.machine.SerialInputJournal;

/** {@code --record}: every byte COM1's receiver takes goes to the log, at the pass it arrived. */
public final class InputRecorder implements SerialInputJournal {
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
    public byte[] due(Point p) {
        return null;
    }

    @Override
    public void delivered(Point p, byte[] taken, int offered) {
        log.event(p, taken);
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
