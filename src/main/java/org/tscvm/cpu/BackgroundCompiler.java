package org.tscvm.cpu;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Compiles blocks off the vCPU threads: one daemon thread for the whole JVM, fed through a
 * bounded queue. A vCPU hands over a {@link Job} holding its own copies of the instructions
 * (the block's slot may be decoded anew meanwhile), goes on interpreting the block, and
 * installs the code when it finds the job done ({@link Cpu}); decoding the block anew in
 * between drops the job. Generating the bytecode and defining the class took 0.77 s of a Linux
 * boot's vCPU thread when done in place (1,396 compiles, about 0.55 ms each).
 *
 * <p>Only for the real-time clock: when a block starts running compiled depends on this
 * thread's progress, which a deterministic run must not (compiled and interpreted code give
 * the same results, but the deterministic clock promises the same run).
 */
final class BackgroundCompiler {
    /** Jobs waiting; a vCPU whose job does not fit compiles the block later. */
    private static final int QUEUE_CAPACITY = 256;

    private static final BlockingQueue<Job> QUEUE = new ArrayBlockingQueue<>(QUEUE_CAPACITY);

    static {
        Thread t = new Thread(BackgroundCompiler::serve, "tscvm-block-compiler");
        t.setDaemon(true);
        t.start();
    }

    private BackgroundCompiler() {
    }

    /** One block or region to compile, and its outcome. */
    static final class Job {
        /** The instructions to compile, copied, all of them (a block's count, or a region's); the compiled code is given these. */
        final Insn[] insns;
        /** Each instruction's RIP. */
        final long[] ips;
        /** Whether the instructions are a region ({@link BlockCompiler#compileRegion}). */
        final boolean region;
        final long ripMask;
        /** The RIP the code is compiled for. */
        final long ip;

        private BlockCode code;
        private Throwable error;
        /** Written last by the compiler thread: its write publishes {@link #code} and {@link #error}. */
        private volatile boolean done;

        Job(Insn[] insns, long[] ips, boolean region, long ripMask, long ip) {
            this.insns = insns;
            this.ips = ips;
            this.region = region;
            this.ripMask = ripMask;
            this.ip = ip;
        }

        boolean done() {
            return done;
        }

        /** The compiled code; null when compilation failed ({@link #error}). Only after {@link #done()}. */
        BlockCode code() {
            return code;
        }

        Throwable error() {
            return error;
        }

        /** Compiles in the calling thread. */
        void run() {
            try {
                code = region ? BlockCompiler.compileRegion(insns, ips, insns.length)
                        : BlockCompiler.compile(insns, insns.length, ip, ripMask);
            } catch (Throwable e) {
                error = e; // even an Error: this thread serves every vCPU and must go on
            } finally {
                done = true;
            }
        }
    }

    /** Queues {@code job}; false when the queue is full. */
    static boolean submit(Job job) {
        return QUEUE.offer(job);
    }

    private static void serve() {
        while (true) {
            Job job;
            try {
                job = QUEUE.take();
            } catch (InterruptedException e) {
                continue; // a daemon: it ends with the JVM
            }
            job.run();
        }
    }
}
