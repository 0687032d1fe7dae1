package org.tscvm.machine;

import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

/** Where COM1's output goes (the {@code -serial} option). */
public sealed interface SerialTarget {
    /**
     * A console: output to {@code out}, and {@code in} feeds the UART's receiver. The command
     * line passes its own standard streams; an in-JVM caller passes streams of its own, so
     * that a run never reads a stdin that belongs to someone else (a test runner's, say).
     */
    record Stdio(InputStream in, PrintStream out) implements SerialTarget {
        /** The process's standard input and output. */
        public Stdio() {
            this(System.in, System.out);
        }
    }

    /** A file, created or truncated. */
    record ToFile(Path path) implements SerialTarget {
    }

    /** Nowhere: the bytes are dropped. */
    record None() implements SerialTarget {
    }

    /** A caller's stream (tests, the API); no input. */
    record ToStream(OutputStream out) implements SerialTarget {
    }

    /** Parses {@code stdio} (as {@code console}), {@code file:PATH} or {@code none}. */
    public static SerialTarget parse(String text, Stdio console) {
        if (text.equals("stdio")) {
            return console;
        }
        if (text.equals("none") || text.equals("null")) {
            return new None();
        }
        if (text.startsWith("file:") && text.length() > 5) {
            return new ToFile(Path.of(text.substring(5)));
        }
        throw new MachineConfigException("-serial " + text + " is not one of stdio, file:PATH, none");
    }
}
