package org.tscvm.log;

import java.io.PrintStream;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.tscvm.TscvmException;

/**
 * tscvm's debug log, switched on by {@code -d LIST} as QEMU's {@code -d} is: silent by default,
 * one line per message on stderr when on. Each topic has its own {@link System.Logger}
 * ({@code tscvm.unimp}, {@code tscvm.guest_errors}, {@code tscvm.options}); the run-time switch
 * is one static boolean per topic, so a call site on a hot path costs a field read when off.
 * The logging framework is set up only when a topic is switched on: a run without {@code -d}
 * never starts it (about 20 ms of every start-up).
 *
 * <pre>{@code
 * if (DebugLog.unimp) {
 *     DebugLog.Topic.UNIMP.first("opcode " + text, "unimplemented opcode " + text + " (#UD)");
 * }
 * }</pre>
 */
public final class DebugLog {
    /** What {@code -d} can switch on, with QEMU's names where QEMU has the same idea. */
    public enum Topic {
        /** QEMU's unimp: guest use of something tscvm does not implement (an opcode, an MSR). */
        UNIMP("unimp", "the first use of each unimplemented opcode or MSR"),
        /** QEMU's guest_errors: the guest misusing a device (an unclaimed I/O port, a read-only register). */
        GUEST_ERRORS("guest_errors", "guest misuse of devices: each unclaimed I/O port, writes to read-only registers"),
        /** tscvm's own: command-line options accepted but ignored, or refused. */
        OPTIONS("options", "command-line options ignored or refused");

        private final String label;
        private final String description;

        Topic(String label, String description) {
            this.label = label;
            this.description = description;
        }

        public String label() {
            return label;
        }

        /** Logs {@code message} if this topic is on. */
        public void log(String message) {
            if (isOn(this)) {
                System.getLogger("tscvm." + label).log(System.Logger.Level.INFO, message);
            }
        }

        /** Logs {@code message} if this topic is on and {@code key} was not logged before in this run. */
        public void first(String key, String message) {
            if (isOn(this) && seen.add(label + ':' + key)) {
                System.getLogger("tscvm." + label).log(System.Logger.Level.INFO, message);
            }
        }
    }

    // The switches call sites read (plain fields: set before the machine's threads start).
    public static volatile boolean unimp;
    public static volatile boolean guestErrors;
    public static volatile boolean options;

    private static final Set<String> seen = ConcurrentHashMap.newKeySet();
    /** The parent of the topics' loggers, which carries the handler while a topic is on. */
    private static Logger root;
    private static Handler handler;

    private DebugLog() {
    }

    private static boolean isOn(Topic topic) {
        return switch (topic) {
            case UNIMP -> unimp;
            case GUEST_ERRORS -> guestErrors;
            case OPTIONS -> options;
        };
    }

    /**
     * Parses {@code -d}'s list: topic names separated by commas, or {@code all}.
     *
     * @throws TscvmException naming an unknown topic and the known ones
     */
    public static Set<Topic> parse(String list) {
        EnumSet<Topic> topics = EnumSet.noneOf(Topic.class);
        for (String word : list.split(",", -1)) {
            String w = word.trim().toLowerCase(Locale.ROOT);
            if (w.equals("all")) {
                topics.addAll(EnumSet.allOf(Topic.class));
                continue;
            }
            Topic found = null;
            for (Topic t : Topic.values()) {
                if (t.label.equals(w)) {
                    found = t;
                }
            }
            if (found == null) {
                throw new TscvmException("-d " + word + " is not a log topic: use " + known() + " or all (-d help lists them)");
            }
            topics.add(found);
        }
        return topics;
    }

    /** The topic names, comma-separated. */
    public static String known() {
        StringBuilder s = new StringBuilder();
        for (Topic t : Topic.values()) {
            s.append(s.length() == 0 ? "" : ",").append(t.label);
        }
        return s.toString();
    }

    /** {@code -d help}: each topic and what it logs. */
    public static String help() {
        StringBuilder s = new StringBuilder("Log topics for -d (comma-separated, or all):\n");
        for (Topic t : Topic.values()) {
            s.append(String.format(Locale.ROOT, "%-14s %s%n", t.label, t.description));
        }
        return s.toString();
    }

    /**
     * Switches on exactly {@code topics}, logging to {@code err} one line each ("tscvm: TOPIC:
     * message"); an empty set switches everything off. Forgets what was logged before, so a
     * new run logs each first occurrence again.
     */
    public static synchronized void configure(Set<Topic> topics, PrintStream err) {
        if (handler != null) {
            root.removeHandler(handler);
            root.setLevel(Level.OFF);
            handler = null;
        }
        seen.clear();
        unimp = topics.contains(Topic.UNIMP);
        guestErrors = topics.contains(Topic.GUEST_ERRORS);
        options = topics.contains(Topic.OPTIONS);
        if (topics.isEmpty()) {
            return;
        }
        if (root == null) {
            root = Logger.getLogger("tscvm"); // held here: JUL holds its loggers weakly
        }
        handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                String name = record.getLoggerName();
                err.println("tscvm: " + name.substring(name.indexOf('.') + 1) + ": " + record.getMessage());
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {
            }
        };
        root.setUseParentHandlers(false);
        root.setLevel(Level.ALL);
        root.addHandler(handler);
    }
}
