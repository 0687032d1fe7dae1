package org.tscvm.cpu.diff;

import org.tscvm.cpu.Cpu;
import org.tscvm.cpu.CpuBus;
import org.tscvm.cpu.CpuFault;
import org.tscvm.cpu.RunStop;
import org.tscvm.memory.GuestMemory;

/**
 * Runs a {@link DiffCase} on tscvm's interpreter: 64-bit mode at CPL 0, page tables that map
 * the buffer and the code at the same linear addresses the native harness uses, the
 * instruction followed by HLT. A {@link #protectedMode} runner runs the same bytes as 32-bit
 * code instead (CPL 0, flat segments, two-level paging mapping the same addresses).
 */
final class InterpreterRunner {
    private static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT_BUF = 0x4000, PT_CODE = 0x5000;
    private static final long BUF_PHYS = 0x10000, CODE_PHYS = 0x11000;
    private static final long PRESENT_WRITABLE_USER = 0x7;
    private static final byte HLT = (byte) 0xf4;
    /** Enough for the longest case (a REP string op of 7 iterations), far below a runaway loop. */
    private static final long BUDGET = 1000;

    private final GuestMemory memory = new GuestMemory(GuestMemory.MIN_BYTES);
    private final Cpu cpu = new Cpu(memory, new QuietBus());
    private final byte[] codeBytes = new byte[4096];

    // 32-bit protected mode: a page directory and tables mapping the same pages (and the
    // set-up code's own page, identity-mapped), CS 0x18.
    private static final long PD32 = 0x6000, PT32_BUF = 0x7000, PT32_CODE = 0x8000, PT32_LOW = 0x9000,
            SETUP32_PHYS = 0x12000, IDTR32_PHYS = SETUP32_PHYS + 0x100;
    private static final int CS32 = 0x18;
    /** A 32-bit code segment whose base is {@code CODE_ADDR - 0x1000}: the case's code at EIP 0x1000. */
    static final int CS32_BASED = 0x20;
    private final boolean protected32;

    InterpreterRunner() {
        this(Cpu.DEFAULT_COMPILE_THRESHOLD);
    }

    /** A runner whose CPU compiles a block after {@code compileThreshold} runs (0: never). */
    InterpreterRunner(int compileThreshold) {
        this(compileThreshold, false);
    }

    /** A runner of 32-bit protected-mode code whose CPU compiles a block after {@code compileThreshold} runs. */
    static InterpreterRunner protectedMode(int compileThreshold) {
        return new InterpreterRunner(compileThreshold, true);
    }

    private InterpreterRunner(int compileThreshold, boolean protected32) {
        this.protected32 = protected32;
        cpu.setCompileThreshold(compileThreshold);
        memory.write64(PML4, PDPT | PRESENT_WRITABLE_USER);
        memory.write64(PDPT, PD | PRESENT_WRITABLE_USER);
        memory.write64(PD + 8 * (DiffCase.BUF_ADDR >>> 21), PT_BUF | PRESENT_WRITABLE_USER);
        memory.write64(PD + 8 * (DiffCase.CODE_ADDR >>> 21), PT_CODE | PRESENT_WRITABLE_USER);
        memory.write64(PT_BUF, BUF_PHYS | PRESENT_WRITABLE_USER);
        memory.write64(PT_CODE, CODE_PHYS | PRESENT_WRITABLE_USER);
        installExceptionHandlers();
        if (protected32) {
            installProtectedMode();
        }
    }

    private void installProtectedMode() {
        memory.write32(PD32 + 4 * (DiffCase.BUF_ADDR >>> 22), (int) (PT32_BUF | PRESENT_WRITABLE_USER));
        memory.write32(PD32 + 4 * (DiffCase.CODE_ADDR >>> 22), (int) (PT32_CODE | PRESENT_WRITABLE_USER));
        memory.write32(PD32, (int) (PT32_LOW | PRESENT_WRITABLE_USER));
        memory.write32(PT32_BUF + 4 * ((DiffCase.BUF_ADDR >>> 12) & 0x3ff), (int) (BUF_PHYS | PRESENT_WRITABLE_USER));
        memory.write32(PT32_CODE + 4 * ((DiffCase.CODE_ADDR >>> 12) & 0x3ff), (int) (CODE_PHYS | PRESENT_WRITABLE_USER));
        memory.write32(PT32_LOW + 4 * (SETUP32_PHYS >>> 12), (int) (SETUP32_PHYS | PRESENT_WRITABLE_USER));
        memory.write64(CODE_PHYS + GDT + CS32, 0x00cf9a000000ffffL);   // 32-bit code, DPL 0
        memory.write64(CODE_PHYS + GDT + CS32_BASED, 0x1fcf9afff000ffffL); // the same at base CODE_ADDR - 0x1000
        long idt = DiffCase.CODE_ADDR + IDT32;
        for (int v = 0; v < VECTORS; v++) {
            long handler = DiffCase.CODE_ADDR + HANDLERS + 8L * v;
            long gate = (handler & 0xffff) | ((long) CS32 << 16) | (0xeL << 40) | (1L << 47) | (((handler >>> 16) & 0xffff) << 48);
            memory.write64(CODE_PHYS + IDT32 + 8L * v, gate);
        }
        memory.write16(IDTR32_PHYS, VECTORS * 8 - 1);
        memory.write32(IDTR32_PHYS + 2, (int) (idt));
        // mov eax, PD32; mov cr3, eax; lidt [IDTR32]; mov eax, cr0; or eax, CR0.PG; mov cr0, eax; hlt
        byte[] setup = {(byte) 0xb8, (byte) PD32, (byte) (PD32 >>> 8), 0, 0, 0x0f, 0x22, (byte) 0xd8,
            0x0f, 0x01, 0x1d, (byte) IDTR32_PHYS, (byte) (IDTR32_PHYS >>> 8), (byte) (IDTR32_PHYS >>> 16), 0,
            0x0f, 0x20, (byte) 0xc0, 0x0d, 0, 0, 0, (byte) 0x80, 0x0f, 0x22, (byte) 0xc0, HLT};
        memory.load(SETUP32_PHYS, setup, 0, setup.length);
    }

    /** CPL 0 at the case's code, in 64-bit mode or (a protected-mode runner) 32-bit protected mode with paging. */
    private void enter() {
        if (!protected32) {
            cpu.enterFlatLongMode(DiffCase.CODE_ADDR, PML4, 0);
            return;
        }
        cpu.enterFlatProtectedMode((int) SETUP32_PHYS, CS32, 0x10);
        if (cpu.run(10) != RunStop.HALTED) {
            throw new IllegalStateException("difftest protected-mode setup failed: " + cpu.describe());
        }
        cpu.setRip(DiffCase.CODE_ADDR);
    }

    // The code page's tail holds a GDT, an IDT for vectors 0-31 and one HLT per vector, so an
    // exception stops the run in a handler that names it (the native side reports the vector
    // the kernel saw). Case code starts at the page's beginning, far below.
    private static final int IDT = 0x800, IDT32 = 0xa00, HANDLERS = 0xc00, GDTR = 0xe00, GDT = 0xe10, IDTR = 0xe40, SETUP = 0xf00;
    private static final int VECTORS = 32;

    private void installExceptionHandlers() {
        memory.write64(CODE_PHYS + GDT + 8, 0x00af9a000000ffffL);   // 0x08: 64-bit code, DPL 0
        memory.write64(CODE_PHYS + GDT + 16, 0x00cf92000000ffffL);  // 0x10: data
        memory.write16(CODE_PHYS + GDTR, 39);
        memory.write64(CODE_PHYS + GDTR + 2, DiffCase.CODE_ADDR + GDT);
        memory.write16(CODE_PHYS + IDTR, VECTORS * 16 - 1);
        memory.write64(CODE_PHYS + IDTR + 2, DiffCase.CODE_ADDR + IDT);
        for (int v = 0; v < VECTORS; v++) {
            long handler = DiffCase.CODE_ADDR + HANDLERS + 8L * v;
            memory.write8(CODE_PHYS + HANDLERS + 8L * v, HLT & 0xff);
            long low = (handler & 0xffff) | (0x08L << 16) | (0xeL << 40) | (1L << 47) | (((handler >>> 16) & 0xffff) << 48);
            memory.write64(CODE_PHYS + IDT + 16L * v, low);
            memory.write64(CODE_PHYS + IDT + 16L * v + 8, handler >>> 32);
        }
        // lgdt GDTR; lidt IDTR (absolute disp32 addresses); hlt
        long gdtr = DiffCase.CODE_ADDR + GDTR, idtr = DiffCase.CODE_ADDR + IDTR;
        byte[] setup = {0x0f, 0x01, 0x14, 0x25, (byte) gdtr, (byte) (gdtr >>> 8), (byte) (gdtr >>> 16), (byte) (gdtr >>> 24),
            0x0f, 0x01, 0x1c, 0x25, (byte) idtr, (byte) (idtr >>> 8), (byte) (idtr >>> 16), (byte) (idtr >>> 24), HLT};
        memory.load(CODE_PHYS + SETUP, setup, 0, setup.length);
        cpu.enterFlatLongMode(DiffCase.CODE_ADDR + SETUP, PML4, 0);
        if (cpu.run(10) != RunStop.HALTED) {
            throw new IllegalStateException("difftest IDT setup failed: " + cpu.describe());
        }
    }

    /** The vector whose handler halted the CPU, or -1. */
    private int haltedInVector() {
        long at = cpu.getRip() - 1 - (DiffCase.CODE_ADDR + HANDLERS);
        return at >= 0 && at < 8L * VECTORS && at % 8 == 0 ? (int) (at / 8) : -1;
    }

    /** The host's name for an exception (NativeHarness.signalName), or the bare vector. */
    private static String faultName(int vector) {
        return switch (vector) {
            case 0 -> "#DE (SIGFPE)";
            case 19 -> "#XM (SIGFPE)";
            case 6 -> "#UD (SIGILL)";
            case 13, 14 -> "#GP/#PF (SIGSEGV)";
            default -> "vector " + vector;
        };
    }

    CpuState run(DiffCase c) {
        try {
            int len = c.code().length;
            System.arraycopy(c.code(), 0, codeBytes, 0, len);
            codeBytes[len] = HLT;
            memory.load(CODE_PHYS, codeBytes, 0, len + 1);
            memory.load(BUF_PHYS, c.mem(), 0, DiffCase.BUF_SIZE);
            enter();
            enableSse(c.xmm(), c.mxcsr());
            for (int i = 0; i < 16; i++) {
                cpu.setGpr(i, c.gpr()[i]);
            }
            // A stack in the buffer's page but past the buffer: harmless if an instruction pushes.
            cpu.setGpr(Cpu.RSP, DiffCase.BUF_ADDR + 0xf00);
            cpu.setRflags(0x2 | (c.rflags() & DiffCase.LOADABLE_FLAGS));
            cpu.setX87(c.fx());
            RunStop stop = cpu.run(BUDGET);
            long expectedRip = DiffCase.CODE_ADDR + len + 1;
            String fault = "";
            if (stop != RunStop.HALTED) {
                fault = "interpreter stopped with " + stop + ": " + cpu.describe();
            } else if (haltedInVector() >= 0) {
                fault = faultName(haltedInVector());
            } else if (cpu.getRip() != expectedRip) {
                fault = "interpreter halted at rip " + Long.toHexString(cpu.getRip()) + ", expected "
                        + Long.toHexString(expectedRip) + " (instruction length)";
            }
            long[] gpr = new long[16];
            for (int i = 0; i < 16; i++) {
                gpr[i] = i == Cpu.RSP ? 0 : cpu.getGpr(i);
            }
            byte[] mem = new byte[DiffCase.BUF_SIZE];
            for (int i = 0; i < mem.length; i++) {
                mem[i] = (byte) memory.read8(BUF_PHYS + i);
            }
            return new CpuState(gpr, cpu.getRflags(), mem, fault, xmm(), cpu.getMxcsr(), cpu.getX87());
        } catch (RuntimeException e) {
            return new CpuState(new long[16], 0, c.mem(), "interpreter threw " + e, new long[32], 0, c.fx());
        }
    }

    /** CR4.OSFXSR and OSXMMEXCPT as a 64-bit OS sets them, and the case's XMM registers and MXCSR. */
    private void enableSse(long[] xmm, int mxcsr) {
        cpu.setCr(4, cpu.getCr(4) | CR4_OSFXSR | CR4_OSXMMEXCPT);
        for (int i = 0; i < 16; i++) {
            cpu.setXmm(i, xmm[2 * i], xmm[2 * i + 1]);
        }
        cpu.setMxcsr(mxcsr);
    }

    private static final long CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10;

    private long[] xmm() {
        long[] x = new long[32];
        for (int i = 0; i < 16; i++) {
            x[2 * i] = cpu.getXmm(i, 0);
            x[2 * i + 1] = cpu.getXmm(i, 1);
        }
        return x;
    }

    /**
     * Runs {@code code} (several instructions may follow each other; HLT is appended) from the
     * given registers, flags and buffer, and describes everything the run left: how it
     * stopped, RIP, the retired count, every register, all of RFLAGS and the buffer.
     */
    String trace(byte[] code, long[] gpr, long rflags, byte[] mem) {
        return trace(code, gpr, rflags, mem, new long[32], DiffCase.DEFAULT_MXCSR, DiffCase.FNINIT_FX);
    }

    /** {@link #trace(byte[], long[], long, byte[])} with XMM registers and MXCSR in, and reported. */
    String trace(byte[] code, long[] gpr, long rflags, byte[] mem, long[] xmm, int mxcsr) {
        return trace(code, gpr, rflags, mem, xmm, mxcsr, DiffCase.FNINIT_FX);
    }

    /** The same from an x87 state too (bytes 0-159 of FXSAVE64); the x87 state it left is described. */
    String trace(byte[] code, long[] gpr, long rflags, byte[] mem, long[] xmm, int mxcsr, byte[] fx) {
        System.arraycopy(code, 0, codeBytes, 0, code.length);
        codeBytes[code.length] = HLT;
        memory.load(CODE_PHYS, codeBytes, 0, code.length + 1);
        memory.load(BUF_PHYS, mem, 0, DiffCase.BUF_SIZE);
        enter();
        enableSse(xmm, mxcsr);
        for (int i = 0; i < 16; i++) {
            cpu.setGpr(i, gpr[i]);
        }
        cpu.setGpr(Cpu.RSP, DiffCase.BUF_ADDR + 0xf00);
        cpu.setRflags(0x2 | (rflags & DiffCase.LOADABLE_FLAGS));
        cpu.setX87(fx);
        long before = cpu.instructionsRetired();
        RunStop stop = cpu.run(BUDGET);
        StringBuilder b = new StringBuilder();
        b.append(stop).append(" rip=").append(Long.toHexString(cpu.getRip()))
                .append(" retired=").append(cpu.instructionsRetired() - before)
                .append(" rflags=").append(Long.toHexString(cpu.getRflags()));
        for (int i = 0; i < 16; i++) {
            b.append(' ').append(DiffCase.REG_NAMES[i]).append('=').append(Long.toHexString(cpu.getGpr(i)));
        }
        b.append(" mem=");
        for (int i = 0; i < DiffCase.BUF_SIZE; i++) {
            b.append(java.util.HexFormat.of().toHexDigits((byte) memory.read8(BUF_PHYS + i)));
        }
        b.append(" mxcsr=").append(Integer.toHexString(cpu.getMxcsr())).append(' ').append(DiffCase.xmmText(xmm()));
        b.append(" x87=").append(java.util.HexFormat.of().formatHex(cpu.getX87()));
        b.append(' ').append(stop == RunStop.HALTED ? "" : cpu.describe());
        return b.toString();
    }

    long compiledBlocks() {
        return cpu.compiledBlocks();
    }

    /** Nothing outside RAM exists for these cases: MMIO reads all ones, I/O is ignored. */
    private static final class QuietBus implements CpuBus {
        @Override
        public long mmioRead(long paddr, int size) {
            return -1L;
        }

        @Override
        public void mmioWrite(long paddr, int size, long value) {
        }

        @Override
        public int ioIn(int port, int size) {
            return size == 4 ? -1 : (1 << (8 * size)) - 1;
        }

        @Override
        public void ioOut(int port, int size, int value) {
        }

        @Override
        public long rdmsr(int index) {
            throw CpuFault.gp0();
        }

        @Override
        public void wrmsr(int index, long value) {
            throw CpuFault.gp0();
        }

        @Override
        public void cpuid(int leaf, int subleaf, int[] out) {
            java.util.Arrays.fill(out, 0);
        }

        @Override
        public long rdtsc() {
            return 0;
        }

        @Override
        public int tscAux() {
            return 0;
        }

        @Override
        public int pendingInterrupt() {
            return -1;
        }

        @Override
        public int acknowledgeInterrupt() {
            return -1;
        }
    }
}
