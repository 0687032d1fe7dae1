package org.tscvm.trace;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.tscvm.tsc.HostClock;

/**
 * A trace of one machine's guest-visible time events, written as Chrome/Perfetto trace-event
 * JSON (the "JSON Array Format" inside {@code {"traceEvents": [...]}}): process 1 is the
 * machine, thread {@code N + 1} is vCPU N, so each vCPU is its own track in Perfetto's UI.
 * Events are instant events ("i", thread scope) whose {@code ts} is host time in microseconds
 * since the trace began, with the guest TSC ({@code tsc}) and the instructions the vCPU had
 * retired ({@code instructions}) in their arguments, followed by a counter event ("C") with
 * the guest TSC (two for a write that moves it: before and after).
 *
 * <pre>{@code
 * Tracer tracer = Tracer.open(TraceConfig.all(Path.of("t.json")), vm.clock());
 * vm.setTracer(tracer);       // before the vCPUs are created
 * ...
 * tracer.close();             // flushes every track and ends the JSON
 * }</pre>
 *
 * <p>Events are not sorted in the file (each track flushes a buffer at a time); trace viewers
 * sort them, and so does {@code tscvm plot}. An I/O error stops the trace and is reported by
 * {@link #close()}; it never reaches a vCPU thread.
 */
public final class Tracer implements AutoCloseable {
    private static final int PID = 1;

    private final TraceConfig config;
    private final HostClock clock;
    private final long originNanos;
    private final Writer out;
    private final List<VcpuTrack> tracks = new ArrayList<>();
    private final StringBuilder line = new StringBuilder(512);
    private boolean first = true;
    /** While set, nothing is recorded: reverse execution replays what the trace already holds. */
    private volatile boolean muted;
    private IOException failure;
    private boolean closed;

    private Tracer(TraceConfig config, HostClock clock, Writer out) {
        this.config = config;
        this.clock = clock;
        this.out = out;
        this.originNanos = clock.nanosAt(clock.now());
    }

    /**
     * Opens {@code config.file()} for writing (replacing it) and writes the trace's header.
     *
     * @throws TscvmException if the file cannot be written
     */
    public static Tracer open(TraceConfig config, HostClock clock) {
        Writer out;
        try {
            out = new BufferedWriter(Files.newBufferedWriter(config.file(), StandardCharsets.UTF_8), 1 << 16);
            out.write("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"tscvm\",\"host_khz\":"
                    + clock.khz() + "},\"traceEvents\":[\n");
        } catch (IOException e) {
            throw new TraceFileException("cannot write the trace file " + config.file() + ": " + e.getMessage());
        }
        Tracer tracer = new Tracer(config, clock, out);
        synchronized (tracer) {
            tracer.metadata("process_name", 0, "\"name\":\"tscvm\"");
        }
        return tracer;
    }

    public TraceConfig config() {
        return config;
    }

    /**
     * Stops or resumes recording on every track. Reverse execution mutes the trace while the
     * machine runs again what it had already run, so the trace reads as one run, as the serial
     * output does, and its own checkpoints and restores are not snapshot events.
     */
    public void mute(boolean on) {
        muted = on;
    }

    public boolean muted() {
        return muted;
    }

    /** A new track for vCPU {@code vcpu}, named "vCPU N" in the trace. */
    public synchronized VcpuTrack track(int vcpu, VcpuTrack.Probe probe) {
        VcpuTrack track = new VcpuTrack(this, vcpu, clock, probe, config);
        tracks.add(track);
        metadata("thread_name", vcpu + 1, "\"name\":\"vCPU " + vcpu + "\"");
        metadata("thread_sort_index", vcpu + 1, "\"sort_index\":" + vcpu);
        return track;
    }

    /**
     * Records a snapshot, restore or migration ({@link TraceKind.Category#STATE}) on every
     * vCPU's track, each with its guest TSC at this instant. Call it where the state was taken
     * or applied (for a restore: after it, so the TSCs shown are the restored ones).
     */
    public void stateEvent(TraceKind kind) {
        if (kind.category() != TraceKind.Category.STATE) {
            throw new IllegalArgumentException(kind + " is not a snapshot, restore or migration event");
        }
        if (muted) {
            return;
        }
        long hostTsc = clock.now();
        List<VcpuTrack> all;
        synchronized (this) {
            all = List.copyOf(tracks);
        }
        for (VcpuTrack track : all) {
            track.state(kind, hostTsc);
        }
    }

    /** Flushes every track and ends the JSON. Idempotent. */
    @Override
    public void close() {
        List<VcpuTrack> all;
        synchronized (this) {
            if (closed) {
                return;
            }
            all = List.copyOf(tracks);
        }
        for (VcpuTrack track : all) {
            synchronized (track) {
                track.flush();
            }
        }
        synchronized (this) {
            closed = true;
            try {
                out.write("\n]}\n");
                out.close();
            } catch (IOException e) {
                failure = failure == null ? e : failure;
            }
            if (failure != null) {
                throw new TraceFileException("the trace file " + config.file() + " could not be written: "
                        + failure.getMessage());
            }
        }
    }

    private void metadata(String name, int tid, String args) {
        line.setLength(0);
        line.append("{\"name\":\"").append(name).append("\",\"ph\":\"M\",\"pid\":").append(PID)
                .append(",\"tid\":").append(tid).append(",\"args\":{").append(args).append("}}");
        emit();
    }

    /** Writes a track's buffered events (the caller holds the track's lock). */
    synchronized void write(VcpuTrack t) {
        if (closed) {
            return;
        }
        int tid = t.vcpu() + 1;
        for (int i = 0; i < t.count; i++) {
            TraceKind kind = t.kinds[i];
            String ts = micros(t.hostNanos[i]);
            int a = i * TraceKind.MAX_ARGS;
            line.setLength(0);
            line.append("{\"name\":\"").append(name(kind, t.labels[i], t.args[a], t.args[a + 1]))
                    .append("\",\"cat\":\"").append(kind.category().label())
                    .append("\",\"ph\":\"i\",\"s\":\"t\",\"ts\":").append(ts)
                    .append(",\"pid\":").append(PID).append(",\"tid\":").append(tid)
                    .append(",\"args\":{\"kind\":\"").append(kind.name()).append('"');
            if (t.labels[i] != null) {
                line.append(",\"exit\":\"").append(t.labels[i]).append('"');
            }
            line.append(",\"tsc\":").append(Long.toUnsignedString(t.guestTscs[i]))
                    .append(",\"instructions\":").append(t.instructions[i])
                    .append(",\"host_tsc\":").append(Long.toUnsignedString(t.hostTscs[i]));
            for (int j = 0; j < kind.argCount(); j++) {
                appendArg(kind.argName(j), t.args[a + j]);
            }
            line.append("}}");
            emit();
            if (kind == TraceKind.MSR_WRITE || kind == TraceKind.OFFSET_SET || kind == TraceKind.HOST_TSC_ADJUST
                    || kind == TraceKind.TSC_KHZ) {
                int before = kind == TraceKind.MSR_WRITE ? 5 : kind == TraceKind.TSC_KHZ ? 4 : 2;
                counter(tid, ts, t.args[a + before]);
            }
            counter(tid, ts, t.guestTscs[i]);
        }
    }

    private void counter(int tid, String ts, long guestTsc) {
        line.setLength(0);
        line.append("{\"name\":\"vCPU ").append(tid - 1).append(" guest TSC\",\"ph\":\"C\",\"ts\":").append(ts)
                .append(",\"pid\":").append(PID).append(",\"tid\":").append(tid)
                .append(",\"args\":{\"tsc\":").append(Long.toUnsignedString(guestTsc)).append("}}");
        emit();
    }

    private void appendArg(String name, long value) {
        line.append(",\"").append(name).append("\":");
        switch (name) {
            case "origin" -> line.append(value == 0 ? "\"guest\"" : "\"host\"");
            case "msr" -> line.append("\"0x").append(Long.toHexString(value)).append('"');
            case "masked" -> line.append(value != 0);
            // Guest TSCs, deadlines and host TSC readings are unsigned 64-bit quantities.
            default -> line.append(name.startsWith("tsc") || name.startsWith("deadline") || name.startsWith("due")
                    || name.startsWith("ratio") ? Long.toUnsignedString(value) : Long.toString(value));
        }
    }

    /** The event's title in a viewer. */
    private static String name(TraceKind kind, String label, long arg0, long arg1) {
        return switch (kind) {
            case MSR_WRITE -> "WRMSR " + msrName((int) arg0) + (arg1 == 0 ? " (guest)" : " (host)");
            case EXIT -> "exit " + label;
            default -> kind.name();
        };
    }

    /** The architectural name of a time MSR. */
    public static String msrName(int msr) {
        return switch (msr) {
            case 0x10 -> "IA32_TSC";
            case 0x3b -> "IA32_TSC_ADJUST";
            case 0xc0000103 -> "IA32_TSC_AUX";
            case 0x6e0 -> "IA32_TSC_DEADLINE";
            default -> "0x" + Integer.toHexString(msr);
        };
    }

    /** Microseconds of host time since the trace began, to the nanosecond. */
    private String micros(long hostNanos) {
        long nanos = hostNanos - originNanos;
        long magnitude = Math.abs(nanos);
        long fraction = magnitude % 1000;
        return (nanos < 0 ? "-" : "") + magnitude / 1000 + (fraction < 10 ? ".00" : fraction < 100 ? ".0" : ".") + fraction;
    }

    private void emit() {
        if (failure != null) {
            return;
        }
        try {
            if (!first) {
                out.write(",\n");
            }
            first = false;
            out.append(line);
        } catch (IOException e) {
            failure = e;
        }
    }
}
