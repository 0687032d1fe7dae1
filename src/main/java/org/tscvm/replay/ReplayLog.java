package org.tscvm.replay;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tscvm.machine.InputJournal.MonitorAction;
import org.tscvm.machine.InputJournal.Point;

/**
 * A record/replay log (docs/replay-format.md): a text file of lines, a header (format version,
 * the tscvm that wrote it, the machine's configuration), one line per input event (COM1's input
 * bytes, the monitor's actions), and an end line with the run's final digests.
 */
public record ReplayLog(String tscvmVersion, Map<String, String> config, List<Event> events, End end) {
    public static final String MAGIC = "tscvm-replay";
    public static final int FORMAT_VERSION = 2;
    /** Format 1 held COM1's input only (and said so in a not-recorded line); it still replays. */
    static final int FORMAT_SERIAL_ONLY = 1;

    public ReplayLog {
        config = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(config));
        events = List.copyOf(events);
    }

    /** An input the guest did not determine, at the start of round-robin pass {@code at().pass()}. */
    public sealed interface Event {
        Point at();
    }

    /** Bytes that reached COM1's receiver. */
    public record SerialIn(Point at, byte[] bytes) implements Event {
    }

    /** A monitor command that acted on the run. */
    public record Monitor(Point at, MonitorAction action) implements Event {
    }

    /** How the run ended: the last point, its exit status, the state and serial output digests. */
    public record End(Point at, int exitStatus, String stateSha256, String serialSha256) {
    }

    /** Writes a log as the run goes: header first, each event as it happens, the end last. */
    public static final class Writer implements AutoCloseable {
        private final java.io.Writer out;
        private final Path path;
        /** A write that failed during the run: reported by {@link #end}, never thrown into the run loop. */
        private IOException failure;

        public Writer(Path path, String tscvmVersion, Map<String, String> config) {
            this.path = path;
            try {
                out = new BufferedWriter(Files.newBufferedWriter(path, StandardCharsets.UTF_8));
                line(MAGIC + " " + FORMAT_VERSION);
                line("tscvm-version " + tscvmVersion);
                for (Map.Entry<String, String> f : config.entrySet()) {
                    line("config " + f.getKey() + "=" + f.getValue());
                }
            } catch (IOException | RuntimeException e) {
                throw new ReplayException(ReplayException.Kind.UNREADABLE, "cannot write " + path + ": " + e.getMessage());
            }
        }

        public void serialIn(Point at, byte[] bytes) {
            event("serial-in " + point(at) + " " + HexFormat.of().formatHex(bytes));
        }

        public void monitor(Point at, MonitorAction action) {
            event("monitor " + point(at) + " " + action.command());
        }

        private void event(String text) {
            if (failure == null) {
                try {
                    line(text);
                    out.flush(); // a run that dies keeps the input it had
                } catch (IOException e) {
                    failure = e;
                }
            }
        }

        public void end(End end) {
            if (failure != null) {
                throw new ReplayException(ReplayException.Kind.UNREADABLE, "cannot write " + path + ": " + failure.getMessage());
            }
            write("end " + point(end.at()) + " exit=" + end.exitStatus() + " state-sha256=" + end.stateSha256()
                    + " serial-sha256=" + end.serialSha256());
        }

        private void write(String text) {
            try {
                line(text);
            } catch (IOException e) {
                throw new ReplayException(ReplayException.Kind.UNREADABLE, "cannot write " + path + ": " + e.getMessage());
            }
        }

        private void line(String text) throws IOException {
            out.write(text);
            out.write('\n');
        }

        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException e) {
                throw new ReplayException(ReplayException.Kind.UNREADABLE, "cannot write " + path + ": " + e.getMessage());
            }
        }
    }

    private static String point(Point p) {
        return p.pass() + " " + p.hostTsc() + " " + p.vcpu0Retired() + " " + p.totalRetired();
    }

    /**
     * Reads and checks a whole log.
     *
     * @throws ReplayException UNREADABLE when the file cannot be read, CORRUPT for anything that
     *                         is not a complete log of this format (the message names the line)
     */
    public static ReplayLog read(Path path) {
        List<String> lines;
        try {
            if (Files.size(path) > MAX_BYTES) {
                throw corrupt(path, 0, "larger than " + MAX_BYTES + " bytes");
            }
            lines = List.of(new String(Files.readAllBytes(path), StandardCharsets.UTF_8).split("\n", -1));
        } catch (IOException | RuntimeException e) {
            if (e instanceof ReplayException r) {
                throw r;
            }
            throw new ReplayException(ReplayException.Kind.UNREADABLE, "cannot read the replay log " + path + ": " + e.getMessage());
        }
        String first = lines.isEmpty() ? "" : lines.get(0);
        if (!first.equals(MAGIC + " " + FORMAT_VERSION) && !first.equals(MAGIC + " " + FORMAT_SERIAL_ONLY)) {
            throw corrupt(path, 1, first.startsWith(MAGIC + " ") ? "format " + first.substring(MAGIC.length() + 1)
                    + " is not one this tscvm reads (" + FORMAT_SERIAL_ONLY + " or " + FORMAT_VERSION + ")"
                    : "not a tscvm replay log");
        }
        boolean serialOnly = first.equals(MAGIC + " " + FORMAT_SERIAL_ONLY);
        if (!lines.get(lines.size() - 1).isEmpty()) {
            // Every line ends with a newline: a last line without one was cut short.
            throw corrupt(path, lines.size(), "the last line has no newline: the log is truncated");
        }
        lines = lines.subList(0, lines.size() - 1);
        String version = null;
        Map<String, String> config = new LinkedHashMap<>();
        List<Event> events = new ArrayList<>();
        End end = null;
        long lastPass = -1;
        // Within a pass the monitor's actions come first, then at most one serial-in.
        boolean serialInAtLastPass = false;
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i);
            int n = i + 1;
            if (end != null) {
                throw corrupt(path, n, "a line after the end line");
            }
            String[] w = line.split(" ", -1);
            switch (w[0]) {
                case "tscvm-version" -> {
                    if (w.length != 2 || version != null) {
                        throw corrupt(path, n, "a malformed tscvm-version line");
                    }
                    version = w[1];
                }
                case "config" -> {
                    int eq = line.indexOf('=');
                    if (eq < 0 || config.put(line.substring(7, eq), line.substring(eq + 1)) != null) {
                        throw corrupt(path, n, "a malformed or repeated config line");
                    }
                }
                case "not-recorded" -> {
                    if (!serialOnly) {
                        throw corrupt(path, n, "a not-recorded line in a format " + FORMAT_VERSION + " log");
                    }
                }
                case "monitor" -> {
                    if (serialOnly || w.length != 6) {
                        throw corrupt(path, n, serialOnly ? "a monitor line in a format " + FORMAT_SERIAL_ONLY + " log"
                                : "a monitor line needs PASS HOSTTSC VCPU0 TOTAL COMMAND");
                    }
                    Point at = point(path, n, w, 1);
                    MonitorAction action = monitorAction(w[5]);
                    if (action == null) {
                        throw corrupt(path, n, "'" + abbreviate(w[5]) + "' is not a monitor action this tscvm replays");
                    }
                    if (at.pass() < lastPass || at.pass() == lastPass && serialInAtLastPass) {
                        throw corrupt(path, n, "a monitor action out of order (a pass's actions come before its serial-in)");
                    }
                    serialInAtLastPass = false;
                    lastPass = at.pass();
                    events.add(new Monitor(at, action));
                }
                case "serial-in" -> {
                    if (w.length != 6) {
                        throw corrupt(path, n, "a serial-in line needs PASS HOSTTSC VCPU0 TOTAL HEXBYTES");
                    }
                    Point at = point(path, n, w, 1);
                    byte[] bytes;
                    try {
                        bytes = HexFormat.of().parseHex(w[5]);
                    } catch (IllegalArgumentException e) {
                        throw corrupt(path, n, "the input bytes are not hex");
                    }
                    if (bytes.length == 0 || at.pass() < lastPass || at.pass() == lastPass && serialInAtLastPass) {
                        throw corrupt(path, n, "an empty event, or one not after the one before");
                    }
                    lastPass = at.pass();
                    serialInAtLastPass = true;
                    events.add(new SerialIn(at, bytes));
                }
                case "end" -> {
                    if (w.length != 8 || !w[5].startsWith("exit=") || !w[6].startsWith("state-sha256=")
                            || !w[7].startsWith("serial-sha256=")) {
                        throw corrupt(path, n, "a malformed end line");
                    }
                    Point at = point(path, n, w, 1);
                    int status;
                    try {
                        status = Integer.parseInt(w[5].substring(5));
                    } catch (NumberFormatException e) {
                        throw corrupt(path, n, "the exit status is not a number");
                    }
                    end = new End(at, status, w[6].substring(13), w[7].substring(14));
                }
                default -> throw corrupt(path, n, "an unknown line '" + abbreviate(line) + "'");
            }
        }
        if (version == null || config.isEmpty()) {
            throw corrupt(path, 2, "the header lacks the tscvm version or the configuration");
        }
        if (end == null) {
            throw corrupt(path, lines.size(), "no end line: the log is truncated (or its run did not end)");
        }
        return new ReplayLog(version, config, events, end);
    }

    private static MonitorAction monitorAction(String command) {
        for (MonitorAction a : MonitorAction.values()) {
            if (a.command().equals(command)) {
                return a;
            }
        }
        return null;
    }

    /** A sanity bound on what read takes into memory. */
    static final long MAX_BYTES = 256L << 20;

    private static Point point(Path path, int n, String[] w, int from) {
        long[] v = new long[4];
        for (int k = 0; k < 4; k++) {
            try {
                v[k] = Long.parseLong(w[from + k]);
            } catch (NumberFormatException e) {
                throw corrupt(path, n, "'" + abbreviate(w[from + k]) + "' is not a number");
            }
            if (v[k] < 0) {
                throw corrupt(path, n, "a negative count");
            }
        }
        return new Point(v[0], v[1], v[2], v[3]);
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static ReplayException corrupt(Path path, int line, String why) {
        return new ReplayException(ReplayException.Kind.CORRUPT,
                "the replay log " + path + " is corrupt at line " + line + ": " + why);
    }

    /**
     * Checks that {@code actual} (this command's configuration) is the one the log was recorded
     * on; the message names every field that differs.
     */
    public void checkConfig(Map<String, String> actual) {
        List<String> diffs = new ArrayList<>();
        for (Map.Entry<String, String> f : config.entrySet()) {
            String now = actual.get(f.getKey());
            if (!f.getValue().equals(now)) {
                diffs.add(f.getKey() + " recorded " + f.getValue() + ", now " + now);
            }
        }
        for (String key : actual.keySet()) {
            if (!config.containsKey(key)) {
                diffs.add(key + " not in the log");
            }
        }
        if (!diffs.isEmpty()) {
            throw new ReplayException(ReplayException.Kind.CONFIG_MISMATCH,
                    "the replay log was recorded on another machine: " + String.join("; ", diffs));
        }
    }
}
