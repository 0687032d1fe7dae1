package org.tscvm.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.tscvm.TscvmException;
import org.tscvm.memory.GuestMemory;
import org.tscvm.memory.HostMemoryException;

/**
 * One x86-64 logical processor: architectural state plus the interpreter that runs it.
 *
 * <p>The run loop (Bochs' {@code cpu_loop} shape): check the event word once per decoded block,
 * find the block for the physical address of RIP in a direct-mapped cache (decoding on a miss),
 * and execute its instructions, advancing RIP before each one. A guest fault is a
 * {@link CpuFault} caught once here and delivered through the IDT.
 *
 * <p>Example: a test rig running a snippet in 64-bit mode:
 * <pre>{@code
 * Cpu cpu = new Cpu(memory, bus);
 * cpu.enterFlatLongMode(0x1000, pml4, 0);
 * RunStop stop = cpu.run(1_000_000);
 * }</pre>
 *
 * <p>Threads: {@link #run} and the state accessors belong to the vCPU thread; only
 * {@link #requestStop} and {@link #notifyInterrupt} may be called from others.
 */
public final class Cpu extends CpuExec {
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /**
     * EV_NMI: an NMI is latched; EV_NMI_SECOND: a second one arrived before the first was taken;
     * EV_WATCH: the last instruction hit a debugger's watchpoint; EV_TASK_TRAP: a task switch
     * to a TSS with the T flag owes a #DB before the new task's first instruction.
     */
    private static final int EV_STOP = 1, EV_INTERRUPT = 2, EV_NMI = 4, EV_NMI_SECOND = 8, EV_WATCH = 16,
            EV_TASK_TRAP = 32;
    /**
     * An RTM transaction is open: not an event to take, but it keeps compiled blocks from
     * chaining, so the run loop sees every instruction of the transaction (executeBlock).
     */
    private static final int EV_TRANSACTION = 64;
    /** CET is active ({@link CpuState#cetActive}): likewise, and no compiled block runs at all. */
    private static final int EV_CET = 128;
    private static final int EV_NOT_EVENTS = EV_TRANSACTION | EV_CET;
    private static final VarHandle EVENTS;

    static {
        try {
            EVENTS = MethodHandles.lookup().findVarHandle(Cpu.class, "events", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Asynchronous requests from other threads (EV_* bits), read once per block and once per
     * iteration of a compiled loop (hence not private: the compiled code reads it).
     */
    volatile int events;

    /** The retired count a compiled loop's iterations stay within: runCompiled's limit. */
    long compiledLoopLimit;

    /**
     * 32768 cache slots, made when first used: Debian's Linux boot re-decoded 1.7 M blocks with
     * 4096 (each one losing its heat and compiled code), 0.24 M with 32768.
     */
    // 64: the limb loop of Linux's bignum code (38 instructions) is one block, one dispatch a turn.
    private static final int BLOCK_BITS = 15, BLOCKS = 1 << BLOCK_BITS, MAX_BLOCK_INSNS = 64;

    /**
     * One decoded block: where it came from, what it holds, and links to the blocks that ran
     * after it. A link is keyed by the successor's linear address, the {@link Mmu#epoch} it
     * was made in and the successor's {@link #decodes} then; while all match, the successor is
     * known without a TLB lookup or a cache probe (block chaining, as QEMU's TB links). Only
     * its code generation is checked again.
     */
    private static final class Block {
        long phys = -1;
        int mode;
        int gen;
        int count;
        /** Times this slot was decoded: a link made before the last decode is stale. */
        int decodes;
        /** For a block whose last instruction crosses a page: the second page's address, else -1. */
        long page2 = -1;
        int gen2;
        final Insn[] insns = new Insn[MAX_BLOCK_INSNS];
        /** Two links: 0 for a branch target, 1 for the fall-through (the next instruction). */
        Block link0, link1;
        long linkLin0 = -1, linkLin1 = -1;
        long linkEpoch0 = -1, linkEpoch1 = -1;
        int linkDecodes0, linkDecodes1;
        /** Runs counted towards compilation; the compiled form and the RIP it was compiled for. */
        int heat;
        BlockCode code;
        long codeIp;
        /** The instructions the compiled form is given: the block's own, or copies. */
        Insn[] codeInsns;
        /** Its compilation on the {@link BackgroundCompiler}, while under way. */
        BackgroundCompiler.Job job;
    }

    /**
     * Runs of a block before {@link BlockCompiler} compiles it; 0 never compiles. The
     * default comes from the system property {@code tscvm.jit.threshold}. 5000, measured: Debian's
     * Linux boot (its crypto self-tests on) took 44 s at 50 (the JVM's own compiler busy with
     * thousands of kernel blocks that run a few hundred times), 19 s interpreting only, 15 s at
     * 5000; the integer-mix benchmark ran in the same time at 50 and 5000 (2.7 s), 20% slower
     * at 20000.
     */
    public static final int DEFAULT_COMPILE_THRESHOLD = Math.max(0, Integer.getInteger("tscvm.jit.threshold", 5000));
    private int compileThreshold = DEFAULT_COMPILE_THRESHOLD;
    private long compiledBlocks;
    private long compiledLoops;
    private long compiledRegions;

    private final Block[] blocks = new Block[BLOCKS];
    /** The block that ran last, or null when it was not cacheable. */
    private Block lastBlock;
    private final Decoder decoder = new Decoder(this);

    /** Instructions retired; package-private for the compiled blocks, which keep it exact. */
    long retired;
    /** Branch instructions retired while {@link #countBranches} was on. */
    private long branchesRetired;
    /** Whether a performance counter counts branches: blocks are then interpreted, and counted. */
    private boolean countBranches;
    private boolean waitForSipi;
    private String lastInternalError = "";
    /** A debugger's breakpoints, watchpoints and stepping, or null (the usual case). */
    private DebugTraps debugTraps;
    /** The watchpoint behind the last {@link RunStop#WATCHPOINT}: its start and kind. */
    private long lastWatchAddress;
    private int lastWatchKind;

    public Cpu(GuestMemory memory, CpuBus bus) {
        super(memory, bus);
        reset();
    }

    @Override
    long retiredNow() {
        return retired;
    }

    @Override
    boolean eventsPending() {
        return (events & ~EV_NOT_EVENTS) != 0;
    }

    @Override
    void cetChanged() {
        if (cetActive) {
            EVENTS.getAndBitwiseOr(this, EV_CET);
        } else {
            EVENTS.getAndBitwiseAnd(this, ~EV_CET);
        }
        endBlock = true;
    }

    @Override
    void watchpointHit() {
        EVENTS.getAndBitwiseOr(this, EV_WATCH);
    }

    @Override
    void taskSwitchTrap() {
        EVENTS.getAndBitwiseOr(this, EV_TASK_TRAP);
    }

    /**
     * Installs a debugger's traps (null removes them); called between runs on the vCPU thread.
     * While traps are installed, {@link #run} executes one instruction at a time, interpreted:
     * it returns {@link RunStop#BREAKPOINT} before an instruction at a breakpoint and
     * {@link RunStop#WATCHPOINT} after one that accessed a watched range.
     */
    public void setDebugTraps(DebugTraps traps) {
        if (traps == debugTraps) {
            return;
        }
        debugTraps = traps;
        mmu.watchTraps = traps != null && traps.watches() ? traps : null;
        if (mmu.watchTraps != null) {
            mmu.flushTlb(false); // watched pages must leave the TLB's fast path
        }
    }

    /** The start of the watched range behind the last {@link RunStop#WATCHPOINT}. */
    public long lastWatchAddress() {
        return lastWatchAddress;
    }

    /** The {@link DebugTraps} kind ({@code WATCH_*}) of the watchpoint behind the last {@link RunStop#WATCHPOINT}. */
    public int lastWatchKind() {
        return lastWatchKind;
    }

    /** The physical address of linear address {@code linear} now, or -1 if unmapped; no side effects (KVM_TRANSLATE). */
    public long translateForDebugger(long linear) {
        return mmu.peekTranslate(linear);
    }

    /**
     * Runs until {@code maxInstructions} have retired or something stops the CPU. Never throws
     * for anything the guest does.
     */
    public RunStop run(long maxInstructions) {
        try {
            return runUntilStop(maxInstructions);
        } finally {
            if (transaction.depth != 0) {
                // The host takes the CPU back (an exit, a pause, a snapshot): as an interrupt
                // would, that aborts an open transaction, which may succeed if retried.
                abortTransaction(Transaction.ABORT_RETRY);
            }
        }
    }

    private RunStop runUntilStop(long maxInstructions) {
        if (maxInstructions < 0) {
            throw new TscvmException("maxInstructions " + maxInstructions + " is negative");
        }
        if (halted) {
            // A halted CPU asks the platform once per run whether something woke it.
            EVENTS.getAndBitwiseOr(this, EV_INTERRUPT);
        }
        long budgetEnd = maxInstructions > Long.MAX_VALUE - retired ? Long.MAX_VALUE : retired + maxInstructions;
        // Deliveries retire nothing; counting them against the budget bounds a guest that
        // faults forever (a real-mode handler that faults again, for example).
        long deliveries = 0;
        while (true) {
            if (shutdown) {
                return RunStop.TRIPLE_FAULT;
            }
            if (waitForSipi) {
                return RunStop.WAIT_FOR_SIPI;
            }
            try {
                while (true) {
                    int ev = events;
                    if (ev != 0) {
                        if ((ev & EV_WATCH) != 0) {
                            EVENTS.getAndBitwiseAnd(this, ~EV_WATCH);
                            lastWatchAddress = watchHitAddress;
                            lastWatchKind = watchHitKind;
                            watchHitKind = 0;
                            return RunStop.WATCHPOINT;
                        }
                        if ((ev & EV_STOP) != 0) {
                            EVENTS.getAndBitwiseAnd(this, ~EV_STOP);
                            return RunStop.STOP_REQUESTED;
                        }
                        if ((ev & EV_TASK_TRAP) != 0) {
                            // SDM table 6-2: the T flag's trap comes before NMIs and interrupts.
                            EVENTS.getAndBitwiseAnd(this, ~EV_TASK_TRAP);
                            dr[6] |= DR6_BT;
                            debugTrap();
                            deliveries++;
                            if (shutdown) {
                                return RunStop.TRIPLE_FAULT;
                            }
                            continue;
                        }
                        if ((ev & EV_NMI) != 0 && nmiEvent(ev)) {
                            return RunStop.TRIPLE_FAULT;
                        }
                        if ((flags & IF) != 0 && retired >= interruptShadowUntil && !stepMasksInterrupts()) {
                            takeExternalInterrupt();
                            if (shutdown) {
                                return RunStop.TRIPLE_FAULT;
                            }
                        }
                    }
                    if (halted) {
                        return RunStop.HALTED;
                    }
                    if (retired + deliveries >= budgetEnd) {
                        return RunStop.BUDGET_EXHAUSTED;
                    }
                    long limit = budgetEnd;
                    DebugTraps traps = debugTraps;
                    if (traps != null) {
                        if (traps.breakpointAt(codeLinear(rip))) {
                            return RunStop.BREAKPOINT;
                        }
                        limit = retired + 1; // one instruction at a time: the next may be a breakpoint
                    }
                    boolean stepping = (flags & TF) != 0;
                    // Careful mode: one instruction at a time while the guest's debug state
                    // asks for it (TF, an enabled DR7 breakpoint, RF, a #DB held over MOV SS).
                    boolean careful = stepping || guestDebugArmed || (flags & RF) != 0 || dbPending != 0;
                    if (careful) {
                        if (guestDebugArmed && (flags & RF) == 0 && instructionBreakpoint()) {
                            deliveries++;
                            if (shutdown) {
                                return RunStop.TRIPLE_FAULT;
                            }
                            continue;
                        }
                        // SDM 17.3.1.1: RF is cleared at the start of the instruction, after the
                        // breakpoint check (IRET may set it again; INT n pushes it clear).
                        flags &= ~RF;
                        limit = Math.min(limit, retired + 1);
                    } else if (retired < interruptShadowUntil && (events & (EV_INTERRUPT | EV_NMI)) != 0) {
                        limit = Math.min(limit, retired + 1);
                    }
                    long before = retired;
                    executeBlock(limit);
                    if (retired != before && (careful || ((flags & TF) != 0 && stepTrapAfterLoad))) {
                        afterCarefulInstruction(stepping);
                        if (shutdown) {
                            return RunStop.TRIPLE_FAULT;
                        }
                    }
                }
            } catch (CpuFault f) {
                int vector = f.vector();
                int errorCode = f.errorCode();
                rip = prevRip;
                stepSuppressed = false;
                stepTrapAfterLoad = false;
                deliveries++;
                safeDeliver(vector, errorCode);
            } catch (HostMemoryException e) {
                throw e; // not the guest's doing, nor a bug: the run ends and says so
            } catch (RuntimeException bug) {
                // An interpreter bug must not take the host down: record it and give the guest #UD.
                lastInternalError = bug.toString();
                unimplemented.merge("internal: " + bug.getClass().getSimpleName(), 1L, Long::sum);
                rip = prevRip;
                deliveries++;
                safeDeliver(CpuFault.UD, CpuFault.NO_ERROR_CODE);
            }
        }
    }

    /** A debugger's single step holds maskable interrupts back, except to wake a halted CPU. */
    private boolean stepMasksInterrupts() {
        DebugTraps traps = debugTraps;
        return traps != null && traps.masksInterrupts && !halted;
    }

    private void safeDeliver(int vector, int errorCode) {
        try {
            interrupts.deliverException(vector, errorCode);
        } catch (HostMemoryException e) {
            throw e;
        } catch (RuntimeException bug) {
            lastInternalError = bug.toString();
            unimplemented.merge("internal: " + bug.getClass().getSimpleName(), 1L, Long::sum);
            shutdown = true;
        }
    }

    /**
     * The end of an instruction run in careful mode (SDM Vol. 3B 17.3.1): a single-step trap
     * (DR6.BS) is due when TF was set when it began (even if it cleared TF, as POPF may) unless
     * it delivered an event of its own (INT n, INT1, SYSCALL clearing TF), or when SYSRET set
     * TF; data breakpoints it hit add DR6.B0-B3. After MOV SS or
     * POP SS the single step is dropped and data breakpoints wait for the next instruction.
     * DR6.B0-B3 are replaced, its other bits only set.
     */
    private void afterCarefulInstruction(boolean stepping) {
        boolean step = (stepping && !stepSuppressed) || (stepTrapAfterLoad && (flags & TF) != 0);
        stepSuppressed = false;
        stepTrapAfterLoad = false;
        if (retired < movSsShadowUntil) {
            return;
        }
        long hits = dbPending;
        if (!step && hits == 0) {
            return;
        }
        dbPending = 0;
        dr[6] = (dr[6] & ~DR6_B0_B3) | hits | (step ? DR6_BS : 0);
        debugTrap();
    }

    /** Delivers a trap-like #DB (DR6 already updated) before the instruction at RIP. */
    private void debugTrap() {
        halted = false; // a single step after HLT: the handler returns past it
        prevRip = rip;
        lastVector = CpuFault.DB;
        lastErrorCode = -1;
        try {
            interrupts.deliver(CpuFault.DB, -1, false, true, rip);
        } catch (CpuFault f) {
            int v = f.vector();
            int e = f.errorCode();
            interrupts.deliverException(v, e);
        }
    }

    /**
     * A fault-like #DB for an enabled instruction breakpoint (R/W 00) at RIP's linear address
     * (SDM 17.2.4), checked while RF is clear; DR6.B0-B3 name every match. True when taken.
     */
    private boolean instructionBreakpoint() {
        long dr7 = dr[7];
        long lin = codeLinear(rip);
        long hits = 0;
        for (int n = 0; n < 4; n++) {
            if (((dr7 >>> (2 * n)) & 3) != 0 && ((dr7 >>> (16 + 4 * n)) & 3) == 0 && dr[n] == lin) {
                hits |= 1L << n;
            }
        }
        if (hits == 0) {
            return false;
        }
        if (retired < movSsShadowUntil && !amdVendor()) {
            return false; // Intel inhibits code breakpoints in a MOV SS shadow; AMD takes them
        }
        dr[6] = (dr[6] & ~DR6_B0_B3) | hits;
        debugTrap();
        return true;
    }

    /** Takes a latched NMI if nothing blocks it (kept out of the run loop to keep it small); true on shutdown. */
    private boolean nmiEvent(int ev) {
        if (!nmiBlocked && retired >= interruptShadowUntil) {
            takeNmi();
            return shutdown;
        }
        if (nmiBlocked && (ev & EV_NMI_SECOND) != 0) {
            // While NMIs are blocked only one stays latched (KVM process_nmi).
            EVENTS.getAndBitwiseAnd(this, ~EV_NMI_SECOND);
        }
        return false;
    }

    /** Delivers the latched NMI through vector 2 and blocks further NMIs until IRET (SDM 6.7.1). */
    private void takeNmi() {
        int ev;
        do {
            ev = events;
        } while (!EVENTS.compareAndSet(this, ev, (ev & EV_NMI_SECOND) != 0 ? ev & ~EV_NMI_SECOND : ev & ~EV_NMI));
        halted = false;
        nmiBlocked = true;
        if (transaction.depth != 0) {
            abortTransaction(Transaction.ABORT_RETRY);
        }
        prevRip = rip;
        lastVector = CpuFault.NMI;
        lastErrorCode = -1;
        try {
            interrupts.deliver(CpuFault.NMI, -1, false, true, rip);
        } catch (CpuFault f) {
            int v = f.vector();
            int e = f.errorCode();
            interrupts.deliverException(v, e);
        }
    }

    private void takeExternalInterrupt() {
        EVENTS.getAndBitwiseAnd(this, ~EV_INTERRUPT);
        if (bus.pendingInterrupt() < 0) {
            return;
        }
        int vector = bus.acknowledgeInterrupt();
        if (transaction.depth != 0) {
            abortTransaction(Transaction.ABORT_RETRY); // the interrupt returns to the fallback address
        }
        // More may be pending behind this one: look again at the next boundary.
        EVENTS.getAndBitwiseOr(this, EV_INTERRUPT);
        halted = false;
        prevRip = rip;
        lastVector = vector;
        lastErrorCode = -1;
        try {
            interrupts.deliver(vector, -1, false, true, rip);
        } catch (CpuFault f) {
            int v = f.vector();
            int e = f.errorCode();
            interrupts.deliverException(v, e);
        }
    }

    // ---- RTM (SDM Vol. 1, ch. 16; handlers in Rtm) ----

    /** The outermost XBEGIN: keeps the registers, and drops the write TLB so each first store to a page is seen. */
    @Override
    void openTransaction(long fallback) {
        transaction.begin(this, fallback);
        mmu.flushTlb(false);
        EVENTS.getAndBitwiseOr(this, EV_TRANSACTION);
    }

    /** The outermost XEND: the transaction's stores stay, what it kept goes. */
    @Override
    void commitTransaction() {
        endTransaction();
    }

    @Override
    void abortTransaction(int status) {
        Transaction t = transaction;
        t.rollBack(this, memory, status | (t.depth > 1 ? Transaction.ABORT_NESTED : 0));
        endTransaction();
        endBlock = true;
    }

    private void endTransaction() {
        transaction.end();
        EVENTS.getAndBitwiseAnd(this, ~EV_TRANSACTION);
    }

    private int modeKey() {
        return codeSize | (mode64 ? 16 : 0) | (realMode() ? 32 : 0);
    }

    /** Where the instruction pointer wraps: RIP in 64-bit mode, EIP or IP in 32- or 16-bit code. */
    private long ripMask() {
        return mode64 ? -1L : codeSize == 4 ? 0xffffffffL : 0xffff;
    }

    private long codeLinear(long ip) {
        return mode64 ? ip : (segBase[CS] + ip) & 0xffffffffL;
    }

    /** One instruction byte at offset {@code ip} in CS (the decoder's fetch). */
    int fetchCodeByte(long ip) {
        if (!mode64 && ip > segLimit[CS]) {
            throw gp(0);
        }
        return (int) mmu.readPhys(mmu.translateExec(codeLinear(ip), userBit), 1);
    }

    private void executeBlock(long limit) {
        long ip = rip;
        prevRip = ip;
        if (!mode64 && ip > segLimit[CS]) {
            throw gp(0);
        }
        long lin = codeLinear(ip);
        Block b = linkedBlock(lin);
        if (b == null) {
            b = lookUpBlock(ip, lin);
        }
        Insn[] insns = b.insns;
        int n = b.count;
        BlockCode code = b.code;
        if (transaction.depth != 0) {
            // Inside a transaction one instruction at a time, interpreted, and one that cannot
            // be undone (I/O, a system instruction, a far transfer) aborts it before it runs.
            if (Rtm.abortsTransaction(insns[0].op)) {
                abortTransaction(0);
                return;
            }
            limit = retired + 1;
            code = null;
        }
        if (cetActive) {
            // The compiled CALL/RET/JMP forms know nothing of CET: interpret, and check the tracker.
            Cet.checkEndbranch(this, insns[0]);
            code = null;
        }
        if (code == null && !cetActive && compileThreshold != 0 && b.phys >= 0) {
            if (b.job != null) {
                code = install(b);
            } else if (++b.heat == compileThreshold) {
                code = compile(b, ip);
            }
        }
        // While a performance counter counts branches, blocks are interpreted: compiled code does not count them.
        boolean countingBranches = countBranches;
        if (code != null && b.codeIp == ip && retired + code.instructions <= limit && !countingBranches) {
            runCompiled(b, limit);
            return;
        }
        long ripMask = ripMask();
        endBlock = false;
        for (int i = 0; i < n; i++) {
            Insn d = insns[i];
            prevRip = rip;
            long next = (rip + d.len) & ripMask;
            rip = next;
            step(d);
            retired++;
            if (countingBranches && d.op.countsAsBranch()) {
                branchesRetired++;
            }
            // A taken Jcc inside the block (a side exit) leaves it like any other transfer.
            if (endBlock || rip != next || retired >= limit) {
                break;
            }
        }
    }

    /**
     * Runs compiled blocks back to back, following the links, for as long as nothing needs the
     * run loop: no event, halt, single step or RF (a REP chunk that set it), the budget not
     * reached, and the next block compiled for this RIP.
     */
    private void runCompiled(Block b, long limit) {
        compiledLoopLimit = limit;
        while (true) {
            endBlock = false;
            b.code.run(this, b.codeInsns);
            if (events != 0 || halted || waitForSipi || shutdown || (flags & (TF | RF)) != 0) {
                return;
            }
            long ip = rip;
            if (!mode64 && ip > segLimit[CS]) {
                return; // the run loop's fetch raises #GP
            }
            long lin = codeLinear(ip);
            Block next = linkedSuccessor(b, lin);
            if (next == null) {
                // An indirect branch or return to a block not linked yet: found here, the run
                // loop's round trip is saved.
                next = cachedBlock(lin);
                if (next == null) {
                    return;
                }
                link(b, lin, next);
            }
            if (next.code == null || next.codeIp != ip || retired + next.code.instructions > limit) {
                return;
            }
            lastBlock = next;
            prevRip = ip;
            b = next;
        }
    }

    /**
     * Compiles {@code b} (with the blocks it runs into, when they make a region) for entry at
     * {@code ip}: in place, or on the {@link BackgroundCompiler}, in which case the block runs
     * interpreted until {@link #install} finds the code ready (null is returned).
     */
    private BlockCode compile(Block b, long ip) {
        boolean region = mode64 && selectRegion(b, ip);
        Insn[] insns = region ? regionInsns : b.insns;
        long[] ips = regionIps;
        regionInsns = null;
        regionIps = null;
        if (backgroundCompile) {
            if (!region) {
                insns = new Insn[b.count];
                for (int i = 0; i < insns.length; i++) {
                    insns[i] = b.insns[i].copy();
                }
            }
            BackgroundCompiler.Job job = new BackgroundCompiler.Job(insns, ips, region, ripMask(), ip);
            if (BackgroundCompiler.submit(job)) {
                b.job = job;
                lastCompileJob = job;
            } else {
                b.heat = 0; // the queue is full: try again after as many runs
            }
            return null;
        }
        try {
            BlockCode code = region ? BlockCompiler.compileRegion(insns, ips, insns.length)
                    : BlockCompiler.compile(insns, b.count, ip, ripMask());
            setCompiled(b, code, insns, ip, region);
            return code;
        } catch (RuntimeException | LinkageError e) {
            compileFailed(e);
            return null;
        }
    }

    /**
     * The code of {@code b}'s background compilation once it is ready, else null. It fits the
     * block: decoding the block anew drops its job.
     */
    private BlockCode install(Block b) {
        BackgroundCompiler.Job job = b.job;
        if (!job.done()) {
            return null;
        }
        b.job = null;
        BlockCode code = job.code();
        if (code == null) {
            compileFailed(job.error());
            return null;
        }
        setCompiled(b, code, job.insns, job.ip, job.region);
        return code;
    }

    private void setCompiled(Block b, BlockCode code, Insn[] insns, long ip, boolean region) {
        b.code = code;
        b.codeInsns = insns;
        b.codeIp = ip;
        compiledBlocks++;
        if (code.loops) {
            compiledLoops++;
        }
        if (region) {
            compiledRegions++;
        }
    }

    /** A compiler bug costs speed, never correctness: the block stays interpreted. */
    private void compileFailed(Throwable e) {
        String what = e == null ? "unknown" : e.getClass().getSimpleName();
        lastInternalError = String.valueOf(e);
        unimplemented.merge("internal: block compiler " + what, 1L, Long::sum);
    }

    /**
     * Turns KVM's enable_vmware_backdoor on or off: the backdoor ports pass the I/O permission
     * check and RDPMC reads the pseudo-PMCs at any CPL ({@link CpuBus#vmwarePseudoPmc}).
     */
    public void setVmwareBackdoor(boolean on) {
        vmwareBackdoor = on;
    }

    /**
     * Turns branch counting on or off ({@link #branchesRetired()}). While on, every block is
     * interpreted: compiled code does not count branches, and nothing is counted when off.
     */
    public void setBranchCounting(boolean on) {
        countBranches = on;
    }

    /** Branch instructions retired while branch counting was on (the architectural event C4H). */
    public long branchesRetired() {
        return branchesRetired;
    }

    /** The current privilege level, 0-3. */
    public int privilegeLevel() {
        return cpl;
    }

    /** Whether CPL changes call {@link CpuBus#privilegeLevelChanging()} first (a counter filters on CPL). */
    public void setPrivilegeWatch(boolean on) {
        watchPrivilege = on;
    }

    /**
     * Sets how many runs of a block come before it is compiled to a JVM method; 0 keeps
     * every block interpreted. Compiled and interpreted blocks give the same results.
     */
    public void setCompileThreshold(int runs) {
        if (runs < 0) {
            throw new TscvmException("compile threshold " + runs + " is negative");
        }
        compileThreshold = runs;
    }

    /**
     * Compiles blocks on the {@link BackgroundCompiler}'s thread rather than this one's (off by
     * default). Only where a run need not repeat: when a block starts running compiled then
     * depends on that thread.
     */
    public void setBackgroundCompile(boolean on) {
        backgroundCompile = on;
    }

    private boolean backgroundCompile;

    /** The last compilation handed to the {@link BackgroundCompiler}, for tests that wait for one. */
    BackgroundCompiler.Job lastCompileJob;

    /** Blocks compiled to JVM methods since creation. */
    public long compiledBlocks() {
        return compiledBlocks;
    }

    /** Of {@link #compiledBlocks()}, those compiled as loops (the block branches to its own start). */
    public long compiledLoops() {
        return compiledLoops;
    }

    /**
     * Of {@link #compiledBlocks()}, those compiled together with blocks they run into
     * ({@link #selectRegion}): a loop through other blocks, or a trace.
     */
    public long compiledRegions() {
        return compiledRegions;
    }

    /** The most blocks one region joins, the most instructions it holds, the most paths tried. */
    private static final int MAX_REGION_BLOCKS = 6, MAX_REGION_INSNS = 160, MAX_REGION_TRIES = 64;

    /** The region being looked for: its blocks, where each starts and how many of its instructions it runs. */
    private final Block[] regionBlocks = new Block[MAX_REGION_BLOCKS];
    private final long[] regionStarts = new long[MAX_REGION_BLOCKS];
    private final int[] regionCounts = new int[MAX_REGION_BLOCKS];
    private int regionTries;
    /** The instructions of the region {@link #selectRegion} last chose, copied, and their RIPs. */
    private Insn[] regionInsns;
    private long[] regionIps;

    /**
     * Chooses {@code head} and the blocks it runs into, to be compiled as one method
     * ({@link BlockCompiler#compileRegion}), and copies their instructions and RIPs into
     * {@link #regionInsns} and {@link #regionIps}; false when it runs into none. First choice, a
     * guest loop that leaves head and comes back to it through other blocks (a JVM loop when
     * every instruction is inline); else the chain of blocks head runs into by JMPs, CALLs and
     * fall-throughs (a trace: the bytecode interpreter's case, JMP to its fetch, JMP to its
     * indirect dispatch becomes one method). The path goes from block to block by a JMP
     * ending one, a fall-through, or (in a loop) a Jcc anywhere in one, which then ends that
     * block's part of the region, its other way an exit. Every block must be decoded and
     * current, hot (a quarter of the compile threshold's runs) and in head's page: then the
     * checks that let head's code run (its page's code generation, the mode, the translation
     * of its RIP) hold for all of them, and what could change them inside the region ends it
     * (a store into code, a handler that ends the block). A block whose own branch goes back
     * to its start is left to the one-block loop.
     */
    private boolean selectRegion(Block head, long ip) {
        if (head.page2 >= 0 || branchesTo(head, ip, ip)) {
            return false;
        }
        regionBlocks[0] = head;
        regionStarts[0] = ip;
        regionTries = 0;
        int length = pathBack(1, 0);
        if (length == 0) {
            length = pathOn(1, head.count);
        }
        if (length < 2) {
            Arrays.fill(regionBlocks, null);
            return false;
        }
        int count = 0;
        for (int k = 0; k < length; k++) {
            count += regionCounts[k];
        }
        Insn[] insns = new Insn[count];
        long[] ips = new long[count];
        int n = 0;
        for (int k = 0; k < length; k++) {
            long at = regionStarts[k];
            for (int j = 0; j < regionCounts[k]; j++) {
                insns[n] = regionBlocks[k].insns[j].copy();
                ips[n] = at;
                at += insns[n++].len;
            }
        }
        Arrays.fill(regionBlocks, null);
        regionInsns = insns;
        regionIps = ips;
        return true;
    }

    /**
     * Extends the path of {@code depth} blocks, holding {@code insns} instructions, by the
     * block its last one runs into by a JMP, a CALL (the callee) or its fall-through: the
     * trace's length in blocks.
     */
    private int pathOn(int depth, int insns) {
        Block last = regionBlocks[depth - 1];
        regionCounts[depth - 1] = last.count;
        Insn end = last.insns[last.count - 1];
        long to = regionStarts[depth - 1];
        for (int j = 0; j < last.count; j++) {
            to += last.insns[j].len;
        }
        if ((end.op == Op.JMP_REL || end.op == Op.CALL_REL) && end.opSize == 8) {
            to += end.imm;
        } else if (end.op.endsBlock) {
            return depth;
        }
        if (depth == MAX_REGION_BLOCKS || (to ^ regionStarts[0]) >>> 12 != 0) {
            return depth;
        }
        for (int k = 0; k < depth; k++) {
            if (regionStarts[k] == to) {
                return depth;
            }
        }
        Block b = decodedInPage(regionBlocks[0], to);
        if (b == null || b.heat < compileThreshold / 4 || insns + b.count > MAX_REGION_INSNS) {
            return depth;
        }
        regionBlocks[depth] = b;
        regionStarts[depth] = to;
        return pathOn(depth + 1, insns + b.count);
    }

    /**
     * Extends the path of {@code depth} blocks, holding {@code before} instructions before the
     * last one, until it comes back to the head: the region's length in blocks, or 0. The
     * last block's Jcc targets are tried in order, then its JMP's target or fall-through.
     */
    private int pathBack(int depth, int before) {
        if (++regionTries > MAX_REGION_TRIES) {
            return 0;
        }
        Block last = regionBlocks[depth - 1];
        long at = regionStarts[depth - 1];
        for (int j = 0; j < last.count; j++) {
            Insn d = last.insns[j];
            at += d.len;
            boolean end = j == last.count - 1;
            long to;
            if (d.op == Op.JCC && d.opSize == 8 || end && d.op == Op.JMP_REL && d.opSize == 8) {
                to = at + d.imm;
            } else if (end && !d.op.endsBlock) {
                to = at; // a block cut by its length
            } else {
                continue;
            }
            int length = follow(depth, before, j + 1, to);
            if (length != 0) {
                return length;
            }
        }
        return 0;
    }

    /** The last block of the path runs {@code count} instructions and goes on at {@code to}. */
    private int follow(int depth, int before, int count, long to) {
        regionCounts[depth - 1] = count;
        if (to == regionStarts[0]) {
            return depth;
        }
        int insns = before + count;
        if (depth == MAX_REGION_BLOCKS || (to ^ regionStarts[0]) >>> 12 != 0) {
            return 0;
        }
        for (int k = 0; k < depth; k++) {
            if (regionStarts[k] == to) {
                return 0; // a loop that does not go through the head
            }
        }
        Block b = decodedInPage(regionBlocks[0], to);
        if (b == null || b.heat < compileThreshold / 4 || insns + b.count > MAX_REGION_INSNS) {
            return 0;
        }
        regionBlocks[depth] = b;
        regionStarts[depth] = to;
        return pathBack(depth + 1, insns);
    }

    /** Whether a JMP or Jcc of {@code b}, decoded at {@code ip}, goes to {@code target}. */
    private static boolean branchesTo(Block b, long ip, long target) {
        long next = ip;
        for (int j = 0; j < b.count; j++) {
            Insn d = b.insns[j];
            next += d.len;
            if ((d.op == Op.JCC || d.op == Op.JMP_REL) && next + d.imm == target) {
                return true;
            }
        }
        return false;
    }

    /** The current block decoded at {@code ip} in the page of {@code head} (same mode, one page), or null. */
    private Block decodedInPage(Block head, long ip) {
        long phys = (head.phys & ~0xfffL) | (ip & 0xfff);
        Block b = blocks[(int) (phys ^ (phys >>> BLOCK_BITS)) & (BLOCKS - 1)];
        if (b == null || b.phys != phys || b.mode != head.mode || b.page2 >= 0 || b.gen != head.gen) {
            return null;
        }
        return b;
    }

    /**
     * The successor the last block recorded for {@code lin}, if the link is still valid: made
     * in the current epoch (no TLB flush, mode change, segment load or re-decode since) and
     * its code not written since (generation).
     */
    private Block linkedBlock(long lin) {
        Block prev = lastBlock;
        if (prev == null) {
            return null;
        }
        Block b = linkedSuccessor(prev, lin);
        if (b != null) {
            lastBlock = b;
        }
        return b;
    }

    /** The successor {@code prev} links to for {@code lin}, if that link is still valid. */
    private Block linkedSuccessor(Block prev, long lin) {
        Block b;
        long epoch = mmu.epoch;
        if (prev.linkLin0 == lin && prev.linkEpoch0 == epoch) {
            b = prev.link0;
            if (b.decodes != prev.linkDecodes0) {
                return null;
            }
        } else if (prev.linkLin1 == lin && prev.linkEpoch1 == epoch) {
            b = prev.link1;
            if (b.decodes != prev.linkDecodes1) {
                return null;
            }
        } else {
            return null;
        }
        if (b.gen != memory.codeGeneration(b.phys) || (b.page2 >= 0 && b.gen2 != memory.codeGeneration(b.page2))) {
            return null;
        }
        return b;
    }

    /** The cache probe (decoding on a miss); links the last block to the result when both are cacheable. */
    private Block lookUpBlock(long ip, long lin) {
        long phys = mmu.translateExec(lin, userBit);
        int slot = (int) (phys ^ (phys >>> BLOCK_BITS)) & (BLOCKS - 1);
        Block b = blocks[slot];
        if (b == null) {
            b = new Block();
            blocks[slot] = b;
        }
        int key = modeKey();
        boolean inRam = memory.isRam(phys, 1);
        if (!inRam || b.phys != phys || b.mode != key || b.gen != memory.codeGeneration(phys)
                || (b.page2 >= 0 && !secondPageValid(b, lin))) {
            decodeBlock(b, ip, lin, phys, key, inRam);
        }
        Block prev = lastBlock;
        if (prev != null && inRam) {
            link(prev, lin, b);
        }
        lastBlock = inRam ? b : null;
        return b;
    }

    /**
     * Links {@code prev} to {@code b} at {@code lin}. A link only says "lin holds block b in
     * this epoch", so it is right whatever the predecessor. Link 0 keeps the first successor;
     * link 1 takes the others (a Jcc's two successors both stay linked, a RET's churn only link 1).
     */
    private void link(Block prev, long lin, Block b) {
        long epoch = mmu.epoch;
        if (prev.linkEpoch0 != epoch) {
            prev.link0 = b;
            prev.linkLin0 = lin;
            prev.linkEpoch0 = epoch;
            prev.linkDecodes0 = b.decodes;
        } else {
            prev.link1 = b;
            prev.linkLin1 = lin;
            prev.linkEpoch1 = epoch;
            prev.linkDecodes1 = b.decodes;
        }
    }

    /**
     * The cached block for {@code lin} when finding it takes neither a page walk nor a
     * decode (the fetch translation is in the TLB, the block ends in its first page and is
     * current), else null; the run loop's {@link #lookUpBlock} does the rest.
     */
    private Block cachedBlock(long lin) {
        long phys = mmu.cachedExecTranslation(lin, userBit);
        if (phys < 0) {
            return null;
        }
        Block b = blocks[(int) (phys ^ (phys >>> BLOCK_BITS)) & (BLOCKS - 1)];
        if (b == null || b.phys != phys || b.mode != modeKey() || b.page2 >= 0 || b.gen != memory.codeGeneration(phys)) {
            return null;
        }
        return b;
    }

    private boolean secondPageValid(Block b, long lin) {
        long next = (lin | 0xfff) + 1;
        long p2 = mmu.translateExec(mode64 ? next : next & 0xffffffffL, userBit) & ~0xfffL;
        return p2 == b.page2 && memory.codeGeneration(p2) == b.gen2;
    }

    private void decodeBlock(Block b, long ip, long lin, long phys, int key, boolean ram) {
        // Links into this block's old contents must die with them.
        b.decodes++;
        b.phys = -1;
        Insn[] insns = b.insns;
        int gen = ram ? memory.markCodePage(phys) : 0;
        long page2 = -1;
        int gen2 = 0;
        long ripMask = ripMask();
        long pageEnd = (lin | 0xfff) + 1;
        long cur = ip;
        int n = 0;
        while (n < MAX_BLOCK_INSNS) {
            Insn d = insns[n];
            if (d == null) {
                d = new Insn();
                insns[n] = d;
            }
            long at = lin + (cur - ip);
            if (at >= pageEnd) {
                break;
            }
            if (at + MAX_LENGTH_GUESS > pageEnd) {
                // The instruction may reach into the next page: mark that page too, first.
                try {
                    long p2 = mmu.translateExec(mode64 ? pageEnd : pageEnd & 0xffffffffL, userBit) & ~0xfffL;
                    if (memory.isRam(p2, 1)) {
                        gen2 = memory.markCodePage(p2);
                        page2 = p2;
                    } else {
                        page2 = -1;
                    }
                } catch (CpuFault f) {
                    page2 = -1;
                }
            }
            try {
                decoder.decode(d, cur);
            } catch (CpuFault f) {
                if (n == 0) {
                    throw f;
                }
                break;
            }
            n++;
            cur = (cur + d.len) & ripMask;
            if (d.op.endsBlock || at + d.len >= pageEnd) {
                break;
            }
        }
        b.count = n;
        b.heat = 0;
        b.code = null;
        b.job = null; // a compilation under way is for the old contents
        b.page2 = page2;
        b.gen2 = gen2;
        b.link0 = null;
        b.link1 = null;
        b.linkLin0 = -1;
        b.linkLin1 = -1;
        if (ram) {
            b.mode = key;
            b.gen = gen;
            b.phys = phys;
        }
    }

    private static final int MAX_LENGTH_GUESS = 15;

    /** Instructions retired since creation (drives the deterministic host clock). */
    public long instructionsRetired() {
        return retired;
    }

    /** Thread-safe: {@link #run} returns {@link RunStop#STOP_REQUESTED} at the next boundary. */
    public void requestStop() {
        EVENTS.getAndBitwiseOr(this, EV_STOP);
    }

    /** Thread-safe: an interrupt may have become pending; a halted CPU wakes on the next run. */
    public void notifyInterrupt() {
        EVENTS.getAndBitwiseOr(this, EV_INTERRUPT);
    }

    /**
     * Thread-safe: the NMI input. Taken at the next instruction boundary outside an STI/MOV SS
     * shadow, whatever RFLAGS.IF, and wakes a halted CPU on the next run (SDM 6.7.1). As in KVM,
     * two NMIs may wait while NMIs are unblocked, one while they are blocked; more are lost.
     */
    public void raiseNmi() {
        int ev;
        do {
            ev = events;
        } while (!EVENTS.compareAndSet(this, ev, ev | ((ev & EV_NMI) != 0 ? EV_NMI_SECOND : EV_NMI)));
    }

    /** NMIs latched and not yet delivered: 0, 1 or 2 (KVM's nmi.pending). */
    private int pendingNmis() {
        int ev = events;
        return (ev & EV_NMI) == 0 ? 0 : (ev & EV_NMI_SECOND) != 0 ? 2 : 1;
    }

    /** Whether an NMI is latched and not yet delivered (for the vCPU's halt loop). */
    public boolean nmiPending() {
        return (events & EV_NMI) != 0;
    }

    /** True after INIT until a STARTUP IPI. */
    public boolean waitingForSipi() {
        return waitForSipi;
    }

    /** Power-on RESET state: real mode, CS:IP = F000:FFF0. */
    public void reset() {
        endTransaction();
        java.util.Arrays.fill(regs, 0);
        nmiBlocked = false;
        EVENTS.getAndBitwiseAnd(this, ~(EV_NMI | EV_NMI_SECOND | EV_TASK_TRAP));
        regs[RDX] = 0x600; // processor signature: family 6
        cr0 = CR0_ET | CR0_CD | CR0_NW;
        cr2 = 0;
        cr3 = 0;
        cr4 = 0;
        csFromRealMode = false;
        cr8 = 0;
        efer = 0;
        java.util.Arrays.fill(dr, 0);
        dr[6] = 0xffff0ff0L;
        dr[7] = 0x400;
        dbPending = 0;
        stepSuppressed = stepTrapAfterLoad = false;
        movSsShadowUntil = 0;
        sysregs.updateGuestDebug();
        kernelGsBase = star = lstar = cstar = fmask = sysenterCs = sysenterEsp = sysenterEip = 0;
        pat = 0x0007040600070406L;
        pkru = pkrs = 0;
        xcr0 = 1;
        Cet.reset(this);
        fpuControl = 0x40;
        fpuStatus = 0;
        fpuTag = 0x5555;
        mxcsr = 0x1f80;
        java.util.Arrays.fill(fxRegisters, (byte) 0);
        X87Control.loadImage(this); // R0-R7 +0.0, FIP/FDP/FOP 0 (SDM table 9-1)
        java.util.Arrays.fill(xmm, 0);
        loadFlags(2);
        cpl = 0;
        for (int s = 0; s < 6; s++) {
            setSeg(s, 0, 0, 0xffff, A_P | A_S | 0x3);
        }
        setSeg(CS, 0xf000, 0xffff0000L, 0xffff, A_P | A_S | 0xb);
        rip = 0xfff0;
        prevRip = rip;
        gdtrBase = idtrBase = 0;
        gdtrLimit = idtrLimit = 0xffff;
        ldtrSel = trSel = 0;
        ldtrBase = trBase = 0;
        ldtrLimit = trLimit = 0xffff;
        ldtrAttr = A_P | T_LDT;
        trAttr = A_P | T_TSS16_BUSY;
        halted = false;
        shutdown = false;
        waitForSipi = false;
        interruptShadowUntil = 0;
        lastVector = -1;
        updateMode();
        mmu.flushTlb(false);
    }

    /** INIT: an AP waits for STARTUP; {@link #run} returns {@link RunStop#WAIT_FOR_SIPI}. */
    public void init() {
        // INIT keeps the MSRs and x87/SSE state; everything else is as at RESET (SDM 10.1.1).
        long keepEfer = 0, keepStar = star, keepLstar = lstar, keepCstar = cstar, keepFmask = fmask,
                keepKgs = kernelGsBase, keepPat = pat, keepSyCs = sysenterCs, keepSyEsp = sysenterEsp,
                keepSyEip = sysenterEip;
        int keepMxcsr = mxcsr;
        byte[] keepX87 = getX87(); // INIT leaves the x87 state alone (SDM table 9-1)
        int keepFcs = fpuCs, keepFds = fpuDs;
        long[] keepXmm = xmm.clone();
        long keepUCet = uCet, keepSCet = sCet, keepSspt = ssptAddr;
        long[] keepPlSsp = plSsp.clone();
        reset();
        uCet = keepUCet;
        sCet = keepSCet;
        ssptAddr = keepSspt;
        System.arraycopy(keepPlSsp, 0, plSsp, 0, 4);
        setX87(keepX87);
        fpuCs = keepFcs;
        fpuDs = keepFds;
        System.arraycopy(keepXmm, 0, xmm, 0, xmm.length);
        efer = keepEfer;
        star = keepStar;
        lstar = keepLstar;
        cstar = keepCstar;
        fmask = keepFmask;
        kernelGsBase = keepKgs;
        pat = keepPat;
        sysenterCs = keepSyCs;
        sysenterEsp = keepSyEsp;
        sysenterEip = keepSyEip;
        mxcsr = keepMxcsr;
        waitForSipi = true;
    }

    /** STARTUP IPI: real mode at CS = vector << 8, IP = 0. Ignored unless waiting for SIPI. */
    public void startup(int vector) {
        if (!waitForSipi) {
            return;
        }
        waitForSipi = false;
        setSeg(CS, (vector & 0xff) << 8, (long) (vector & 0xff) << 12, 0xffff, A_P | A_S | 0xb);
        rip = 0;
        updateMode();
    }

    /**
     * The multiboot entry state: 32-bit protected mode, paging off, CS = flat code (0x08),
     * data segments flat (0x10), EFLAGS = 2, CR0 = PE|ET, at {@code eip}.
     */
    public void enterFlatProtectedMode(int eip) {
        enterFlatProtectedMode(eip, 0x08, 0x10);
    }

    /**
     * {@link #enterFlatProtectedMode(int)} with other selectors in CS and the data segments, for
     * boot protocols that name them (Linux's 32-bit boot protocol: CS 0x10, data 0x18). The
     * descriptor caches are loaded flat whatever the selectors; the GDT the selectors point
     * into is the caller's ({@link #setGdtr}).
     */
    public void enterFlatProtectedMode(int eip, int codeSelector, int dataSelector) {
        cr0 = CR0_PE | CR0_ET;
        cr4 = 0;
        Cet.update(this);
        efer = 0;
        loadFlags(2);
        setSeg(CS, codeSelector, 0, 0xffffffffL, FLAT_CODE32 | 1);
        for (int s : new int[] {ES, SS, DS, FS, GS}) {
            setSeg(s, dataSelector, 0, 0xffffffffL, FLAT_DATA | 1);
        }
        rip = eip & 0xffffffffL;
        halted = false;
        waitForSipi = false;
        shutdown = false;
        updateMode();
        mmu.flushTlb(false);
    }

    /**
     * A flat 64-bit entry state for ELF64 kernels and test rigs: CR0 = PE|ET|PG, CR4 = PAE,
     * EFER = LME|LMA|NXE, CR3 = {@code cr3} (page tables the caller built), CS = 64-bit code
     * at CPL {@code cpl} (0 or 3), data segments flat, EFLAGS = 2, at {@code rip}.
     * Selectors: CPL 0 uses CS 0x08 and data 0x10; CPL 3 uses CS 0x2b and data 0x23 (the SYSRET layout with STAR[63:48] = 0x18).
     */
    public void enterFlatLongMode(long rip, long cr3, int cpl) {
        if (cpl != 0 && cpl != 3) {
            throw new TscvmException("CPL " + cpl + " is not 0 or 3");
        }
        enterFlatLongMode(rip, cr3, cpl, cpl == 0 ? 0x08 : 0x2b, cpl == 0 ? 0x10 : 0x23);
    }

    /**
     * {@link #enterFlatLongMode(long, long, int)} at CPL 0 with other selectors in CS and the
     * data segments, for boot protocols that name them (Linux's 64-bit boot protocol: CS 0x10,
     * data 0x18); the GDT they point into is the caller's ({@link #setGdtr}).
     */
    public void enterFlatLongMode(long rip, long cr3, int codeSelector, int dataSelector) {
        enterFlatLongMode(rip, cr3, 0, codeSelector, dataSelector);
    }

    private void enterFlatLongMode(long rip, long cr3, int cpl, int codeSelector, int dataSelector) {
        if (!canonical(rip)) {
            throw new TscvmException(String.format("RIP 0x%x is not canonical", rip));
        }
        cr0 = CR0_PE | CR0_ET | CR0_PG;
        cr4 = CR4_PAE;
        Cet.update(this);
        efer = EFER_LME | EFER_LMA | EFER_NXE;
        this.cr3 = cr3;
        loadFlags(2);
        int dplBits = cpl << 5;
        setSeg(CS, codeSelector, 0, 0xffffffffL, FLAT_CODE64 | dplBits | 1);
        for (int s : new int[] {ES, SS, DS, FS, GS}) {
            setSeg(s, dataSelector, 0, 0xffffffffL, FLAT_DATA | dplBits | 1);
        }
        this.rip = rip;
        halted = false;
        waitForSipi = false;
        shutdown = false;
        updateMode();
        mmu.flushTlb(false);
    }

    /** Loads GDTR as LGDT would, from the host: a loader that built a GDT in guest memory. */
    public void setGdtr(long base, int limit) {
        gdtrBase = base;
        gdtrLimit = limit & 0xffff;
    }

    public long getRflags() {
        return rflags();
    }

    public void setRflags(long rflags) {
        loadFlags(rflags);
        updateMode();
    }

    /**
     * The x87 state as bytes 0-159 of an FXSAVE64 image (the fields of KVM_GET_FPU): FCW at 0,
     * FSW at 2, the abridged tag at 4, FOP at 6, FIP at 8, FDP at 16, MXCSR at 24, ST0-ST7 at
     * 32 + 16 i.
     */
    public byte[] getX87() {
        return X87Control.image(this);
    }

    /** Loads {@link #getX87()}'s layout (MXCSR at 24 excepted): KVM_SET_FPU for the x87. */
    public void setX87(byte[] image) {
        if (image.length < 160) {
            throw new TscvmException("an x87 image has 160 bytes, not " + image.length);
        }
        X87Control.loadImage(this, image);
    }

    /** Control registers 0, 2, 3, 4, 8. */
    public long getCr(int n) {
        switch (n) {
            case 0: return cr0;
            case 2: return cr2;
            case 3: return cr3;
            case 4: return cr4;
            case 8: return cr8;
            default: throw new TscvmException("CR" + n + " does not exist: use 0, 2, 3, 4 or 8");
        }
    }

    /** Sets CR0 or CR4 as MOV to CRn at CPL 0 would (the same checks; #GP as a {@link CpuFault}). */
    public void setCr(int n, long value) {
        switch (n) {
            case 0: sysregs.writeCr0(value); break;
            case 4: sysregs.writeCr4(value); break;
            default: throw new TscvmException("CR" + n + " cannot be set here: use 0 or 4");
        }
    }

    /** Quadword {@code half} (0: bits 63:0, 1: bits 127:64) of XMM{@code reg}. */
    public long getXmm(int reg, int half) {
        checkXmm(reg, half);
        return xmm[2 * reg + half];
    }

    public void setXmm(int reg, long low, long high) {
        checkXmm(reg, 0);
        xmm[2 * reg] = low;
        xmm[2 * reg + 1] = high;
    }

    private static void checkXmm(int reg, int half) {
        if (reg < 0 || reg > 15 || half < 0 || half > 1) {
            throw new TscvmException("XMM" + reg + " quadword " + half + " does not exist: use 0..15 and 0..1");
        }
    }

    public int getMxcsr() {
        return mxcsr;
    }

    /** Sets MXCSR; a reserved bit (outside MXCSR_MASK 0xffff) is refused, as LDMXCSR would #GP. */
    public void setMxcsr(int value) {
        if ((value & ~MXCSR_MASK) != 0) {
            throw new TscvmException(String.format("MXCSR 0x%x sets reserved bits (mask 0x%x)", value, MXCSR_MASK));
        }
        mxcsr = value;
    }

    /** Instructions that raised #UD because tscvm does not implement them, by opcode text. */
    public Map<String, Long> unimplementedOpcodes() {
        return java.util.Collections.unmodifiableMap(new TreeMap<>(unimplemented));
    }

    public long getGpr(int reg) {
        checkGpr(reg);
        return regs[reg];
    }

    public void setGpr(int reg, long value) {
        checkGpr(reg);
        regs[reg] = value;
    }

    private static void checkGpr(int reg) {
        if (reg < 0 || reg > 15) {
            throw new TscvmException("general-purpose register " + reg + " does not exist: use 0..15");
        }
    }

    public long getRip() {
        return rip;
    }

    /** The CET shadow-stack pointer (KVM's KVM_REG_GUEST_SSP). */
    public long getSsp() {
        return ssp;
    }

    /** Sets SSP as the host does (KVM_SET_ONE_REG): it must be canonical and 4-byte aligned. */
    public void setSsp(long value) {
        if (!canonical(value) || (value & 3) != 0) {
            throw new TscvmException(String.format("SSP 0x%x is not canonical and 4-byte aligned", value));
        }
        ssp = value;
    }

    /** Sets RIP; a halted CPU becomes runnable again (the host redirected it). */
    public void setRip(long rip) {
        this.rip = rip;
        halted = false;
    }

    /**
     * The MSRs that are CPU architectural state (EFER, FS/GS bases, SYSCALL/SYSENTER, PAT, PKRS,
     * XSS), ascending. The guest's RDMSR/WRMSR of them never reach the bus.
     */
    public static int[] ownedMsrs() {
        return SystemRegisters.OWNED_MSRS.clone();
    }

    /** Reads a CPU-owned MSR (the host's access; the guest's is RDMSR). */
    public long readMsr(int index) {
        if (!SystemRegisters.isOwnedMsr(index)) {
            throw new TscvmException(String.format("MSR 0x%x is not CPU state; ask the vCPU's MSR table", index));
        }
        return sysregs.readOwnedMsr(index);
    }

    /** Writes a CPU-owned MSR (the host's access); throws {@link CpuFault} #GP for a value the SDM refuses. */
    public void writeMsr(int index, long value) {
        if (!SystemRegisters.isOwnedMsr(index)) {
            throw new TscvmException(String.format("MSR 0x%x is not CPU state; ask the vCPU's MSR table", index));
        }
        sysregs.writeOwnedMsr(index, value);
        // A guest WRMSR of CPU state (EFER, the SYSCALL MSRs, segment bases) ends its block.
        endBlock = true;
    }

    /**
     * Everything a snapshot needs to resume this CPU: architectural registers, descriptor
     * caches, MSRs the CPU owns, x87/SSE state and the run state. {@code fxRegisters} is an
     * FXSAVE64-shaped image: ST0-ST7 at 32 + 16 i, FOP at 6, FIP at 8, FDP at 16, FCS and FDS at
     * 0 and 2 (the control words travel in their own fields). Values are guest
     * values; decoded blocks and the TLB are caches and are rebuilt.
     */
    public record State(long[] gprs, long rip, long rflags, int[] segSelectors, long[] segBases, long[] segLimits,
            int[] segAttributes, int ldtrSelector, long ldtrBase, long ldtrLimit, int ldtrAttributes, int trSelector,
            long trBase, long trLimit, int trAttributes, long gdtrBase, int gdtrLimit, long idtrBase, int idtrLimit,
            long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long[] debugRegisters, long kernelGsBase,
            long star, long lstar, long cstar, long fmask, long sysenterCs, long sysenterEsp, long sysenterEip,
            long pat, int fpuControl, int fpuStatus, int fpuTag, int mxcsr, byte[] fxRegisters, boolean halted,
            boolean waitingForSipi, boolean shutdown, boolean interruptShadow, long instructionsRetired,
            boolean movSsShadow, boolean nmiBlocked, int pendingNmis, int pkru, long xcr0) {
    }

    /** Copies the state out (for snapshots and migration); the XMM registers travel in the FXSAVE image. */
    public State saveState() {
        X87Control.saveImage(this);
        byte[] image = fxRegisters.clone();
        for (int i = 0; i < 32; i++) {
            GuestMemory.I64.set(image, FX_XMM + 8 * i, xmm[i]);
        }
        return new State(regs.clone(), rip, rflags(), segSel.clone(), segBase.clone(), segLimit.clone(),
                segAttr.clone(), ldtrSel, ldtrBase, ldtrLimit, ldtrAttr, trSel, trBase, trLimit, trAttr, gdtrBase,
                gdtrLimit, idtrBase, idtrLimit, cr0, cr2, cr3, cr4, cr8, efer, dr.clone(), kernelGsBase, star,
                lstar, cstar, fmask, sysenterCs, sysenterEsp, sysenterEip, pat, fpuControl, fpuStatus, fpuTag,
                mxcsr, image, halted, waitForSipi, shutdown, retired < interruptShadowUntil, retired,
                retired < movSsShadowUntil, nmiBlocked, pendingNmis(), pkru, xcr0);
    }

    /**
     * What is wrong with {@code s} as a state to run from, or null when nothing is: the checks
     * a VMX entry makes on guest state (SDM Vol. 3C 26.3.1), with tscvm's reserved bits: CR0,
     * CR4 (bits CPUID does not report included) and EFER reserved bits, CR0.PG without PE,
     * NW without CD, EFER.LMA other than LME and PG, long mode without PAE, CR8 above 15,
     * RFLAGS' fixed bits, segment attributes and limits, a TR that is not a busy TSS, an
     * unusable CS, a 64-bit CS with D set, non-canonical bases, MXCSR's reserved bits, and the
     * array lengths.
     */
    public String checkState(State s) {
        if (s.gprs().length != 16 || s.segSelectors().length != 6 || s.segBases().length != 6
                || s.segLimits().length != 6 || s.segAttributes().length != 6 || s.debugRegisters().length != 8
                || s.fxRegisters().length != 512) {
            return "an array of the state has the wrong length";
        }
        long cr0 = s.cr0(), cr4 = s.cr4(), efer = s.efer();
        // The values MOV CR and WRMSR refuse in any mode; the mode-dependent rules follow.
        String refused = SystemRegisters.cr0Refusal(cr0);
        if (refused != null) {
            return String.format("CR0 0x%x %s", cr0, refused);
        }
        refused = sysregs.cr4Refusal(cr4);
        if (refused != null) {
            return String.format("CR4 0x%x %s", cr4, refused);
        }
        refused = SystemRegisters.cetRefusal(cr0, cr4);
        if (refused != null) {
            return String.format("%s (CR0 0x%x, CR4 0x%x)", refused, cr0, cr4);
        }
        refused = SystemRegisters.eferRefusal(efer);
        if (refused != null) {
            return String.format("EFER 0x%x %s", efer, refused);
        }
        boolean lma = (efer & EFER_LMA) != 0;
        if (lma != ((efer & EFER_LME) != 0 && (cr0 & CR0_PG) != 0)) {
            return String.format("EFER.LMA (EFER 0x%x) must equal EFER.LME and CR0.PG (CR0 0x%x)", efer, cr0);
        }
        if (lma && (cr4 & CR4_PAE) == 0) {
            return String.format("long mode needs CR4.PAE (CR4 0x%x)", cr4);
        }
        if (Long.compareUnsigned(s.cr8(), 15) > 0) {
            return String.format("CR8 0x%x is above 15", s.cr8());
        }
        // As XSETBV (and KVM_SET_XCRS): x87 always, SSE only where CPUID reports XSAVE.
        long xcr0Valid = (sysregs.cr4BitsCpuidReports() & CR4_OSXSAVE) != 0 ? SystemOps.XCR0_SUPPORTED : SystemOps.XCR0_X87;
        if ((s.xcr0() & SystemOps.XCR0_X87) == 0 || (s.xcr0() & ~xcr0Valid) != 0) {
            return String.format("XCR0 0x%x must set x87 (bit 0) and no bit outside 0x%x", s.xcr0(), xcr0Valid);
        }
        long rflags = s.rflags();
        if ((rflags & 2) == 0 || (rflags & ~(FLAGS_WRITABLE | 2)) != 0) {
            return String.format("RFLAGS 0x%x: bit 1 must be set and reserved bits clear", rflags);
        }
        String[] names = {"ES", "CS", "SS", "DS", "FS", "GS"};
        for (int i = 0; i < 6; i++) {
            String bad = checkSegment(names[i], s.segSelectors()[i], s.segBases()[i], s.segLimits()[i],
                    s.segAttributes()[i]);
            if (bad != null) {
                return bad;
            }
        }
        int cs = s.segAttributes()[CS];
        if ((cs & A_UNUSABLE) != 0 || (cs & A_P) == 0) {
            return "CS is unusable or not present";
        }
        if (lma && (cs & A_L) != 0 && (cs & A_DB) != 0) {
            return "a 64-bit CS (L=1) must have D/B clear";
        }
        String bad = checkSegment("TR", s.trSelector(), s.trBase(), s.trLimit(), s.trAttributes());
        if (bad == null) {
            bad = checkSegment("LDTR", s.ldtrSelector(), s.ldtrBase(), s.ldtrLimit(), s.ldtrAttributes());
        }
        if (bad != null) {
            return bad;
        }
        int trType = s.trAttributes() & A_TYPE;
        // A 16-bit busy TSS passes in long mode too: RESET leaves one there until the guest's LTR.
        if ((s.trAttributes() & (A_S | A_UNUSABLE)) != 0 || (trType != T_TSS_BUSY && trType != T_TSS16_BUSY)) {
            return String.format("TR attributes 0x%x are not a busy TSS", s.trAttributes());
        }
        if ((s.gdtrLimit() & ~0xffff) != 0 || (s.idtrLimit() & ~0xffff) != 0) {
            return "a descriptor-table limit is above 0xffff";
        }
        if (!canonical(s.gdtrBase()) || !canonical(s.idtrBase()) || !canonical(s.trBase())
                || !canonical(s.ldtrBase()) || !canonical(s.segBases()[FS]) || !canonical(s.segBases()[GS])
                || !canonical(s.kernelGsBase()) || !canonical(s.lstar()) || !canonical(s.cstar())
                || !canonical(s.sysenterEsp()) || !canonical(s.sysenterEip())) {
            return "a base address or SYSCALL/SYSENTER target is not canonical";
        }
        if (lma && !canonical(s.rip())) {
            return String.format("RIP 0x%x is not canonical", s.rip());
        }
        if ((s.mxcsr() & ~MXCSR_MASK) != 0) {
            return String.format("MXCSR 0x%x sets reserved bits (mask 0x%x)", s.mxcsr(), MXCSR_MASK);
        }
        if (s.pendingNmis() < 0 || s.pendingNmis() > 2) {
            return "pending NMIs must be 0, 1 or 2, not " + s.pendingNmis();
        }
        if (s.halted() && s.waitingForSipi()) {
            return "a CPU cannot be both halted and waiting for SIPI";
        }
        return null;
    }

    private static String checkSegment(String name, int selector, long base, long limit, int attributes) {
        if ((selector & ~0xffff) != 0) {
            return String.format("%s selector 0x%x is above 0xffff", name, selector);
        }
        if ((attributes & ~(0x1_ffff & ~0xf00 | 0x1000)) != 0) {
            return String.format("%s attributes 0x%x set reserved bits (the VMX access-rights layout)", name, attributes);
        }
        if (Long.compareUnsigned(limit, 0xffffffffL) > 0) {
            return String.format("%s limit 0x%x is above 4 GiB", name, limit);
        }
        return null;
    }

    /** Replaces the whole state with {@code s}; throws if an array has the wrong length. */
    public void restoreState(State s) {
        endTransaction(); // a saved state is never inside one: run() aborts it on the way out
        checkLength("gprs", s.gprs().length, 16);
        checkLength("segment arrays", s.segSelectors().length, 6);
        checkLength("segment arrays", s.segBases().length, 6);
        checkLength("segment arrays", s.segLimits().length, 6);
        checkLength("segment arrays", s.segAttributes().length, 6);
        checkLength("debugRegisters", s.debugRegisters().length, 8);
        checkLength("fxRegisters", s.fxRegisters().length, 512);
        System.arraycopy(s.gprs(), 0, regs, 0, 16);
        rip = s.rip();
        loadFlags(s.rflags());
        System.arraycopy(s.segSelectors(), 0, segSel, 0, 6);
        System.arraycopy(s.segBases(), 0, segBase, 0, 6);
        System.arraycopy(s.segLimits(), 0, segLimit, 0, 6);
        System.arraycopy(s.segAttributes(), 0, segAttr, 0, 6);
        ldtrSel = s.ldtrSelector();
        ldtrBase = s.ldtrBase();
        ldtrLimit = s.ldtrLimit();
        ldtrAttr = s.ldtrAttributes();
        trSel = s.trSelector();
        trBase = s.trBase();
        trLimit = s.trLimit();
        trAttr = s.trAttributes();
        gdtrBase = s.gdtrBase();
        gdtrLimit = s.gdtrLimit();
        idtrBase = s.idtrBase();
        idtrLimit = s.idtrLimit();
        cr0 = s.cr0();
        cr2 = s.cr2();
        cr3 = s.cr3();
        cr4 = s.cr4();
        Cet.update(this); // the CET MSRs come back as MSRs (writeMsr), before or after this
        mmu.pdptesValid = false; // reloaded from the PDPT on the first walk: RAM may be restored after this
        // Between MOV CR0 setting PE and the far jump CS holds a real-mode value whose low bits
        // are no RPL. KVM's state takes the CPL from SS.DPL (VMX): so does a restore here.
        csFromRealMode = (cr0 & CR0_PE) != 0 && (flags & VM) == 0 && (segSel[CS] & 3) != 0
                && Segmentation.dpl(segAttr[SS]) == 0;
        cr8 = s.cr8();
        efer = s.efer();
        System.arraycopy(s.debugRegisters(), 0, dr, 0, 8);
        dbPending = 0;
        sysregs.updateGuestDebug();
        kernelGsBase = s.kernelGsBase();
        star = s.star();
        lstar = s.lstar();
        cstar = s.cstar();
        fmask = s.fmask();
        sysenterCs = s.sysenterCs();
        sysenterEsp = s.sysenterEsp();
        sysenterEip = s.sysenterEip();
        pat = s.pat();
        fpuControl = s.fpuControl();
        fpuStatus = s.fpuStatus();
        fpuTag = s.fpuTag();
        mxcsr = s.mxcsr();
        System.arraycopy(s.fxRegisters(), 0, fxRegisters, 0, 512);
        X87Control.loadImage(this);
        for (int i = 0; i < 32; i++) {
            xmm[i] = (long) GuestMemory.I64.get(fxRegisters, FX_XMM + 8 * i);
        }
        halted = s.halted();
        waitForSipi = s.waitingForSipi();
        shutdown = s.shutdown();
        retired = s.instructionsRetired();
        interruptShadowUntil = s.interruptShadow() || s.movSsShadow() ? retired + 1 : 0;
        movSsShadowUntil = s.movSsShadow() ? retired + 1 : 0;
        nmiBlocked = s.nmiBlocked();
        int pending = s.pendingNmis() <= 0 ? 0 : s.pendingNmis() == 1 ? EV_NMI : EV_NMI | EV_NMI_SECOND;
        int ev;
        do {
            ev = events;
        } while (!EVENTS.compareAndSet(this, ev, (ev & ~(EV_NMI | EV_NMI_SECOND)) | pending));
        pkru = s.pkru();
        xcr0 = s.xcr0();
        updateMode();
        mmu.flushTlb(false);
    }

    private static void checkLength(String what, int actual, int expected) {
        if (actual != expected) {
            throw new TscvmException(what + " has " + actual + " entries; a CPU state needs " + expected);
        }
    }

    /** One line for a triple fault report: RIP, CR0, CR3, CR4, EFER and the last exception. */
    public String describe() {
        return String.format("RIP=%016x CS=%04x CPL=%d CR0=%08x CR3=%016x CR4=%08x EFER=%x RFLAGS=%x"
                        + " RSP=%016x last exception=%s error=%x%s%s",
                rip, segSel[CS], cpl, cr0, cr3, cr4, efer, rflags(), regs[RSP],
                lastVector < 0 ? "none" : Integer.toString(lastVector), lastErrorCode,
                shutdown ? " (shutdown)" : "",
                lastInternalError.isEmpty() ? "" : " internal error: " + lastInternalError);
    }
}
