package org.tscvm.cpu;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.tscvm.memory.GuestMemory;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.Vm;
import org.tscvm.vm.VmConfig;

/**
 * The interpreter's hot paths on a real vCPU (its own {@link CpuBus}): decode of a fixed
 * instruction mix, the decoded-block execution loop, and guest loads through the TLB. The
 * class sits in package {@code org.tscvm.cpu} because {@link Decoder} and {@link Insn} are
 * package-private; the shaded benchmarks jar holds both sides of the package.
 *
 * <p>Each figure is per guest instruction (or per decoded instruction for {@code decode}).
 * The guest runs in flat 64-bit mode with 2 MiB identity pages over the first 1 GiB; the loops
 * never end, so {@code Cpu.run(n)} always stops on its budget.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class InterpreterBenchmark {
    private static final long PML4 = 0x1000, CODE = 0x10000, DATA = 0x100000, STACK_TOP = 0x80000;
    private static final int RUN = 10_000;

    /**
     * The compute loop (5 instructions per block, one block per iteration):
     * <pre>
     * 10000: 01 c8                    add %ecx,%eax
     * 10002: 48 8d 14 50              lea (%rax,%rdx,2),%rdx
     * 10006: 89 14 25 00 00 03 00     mov %edx,0x30000
     * 1000d: ff c9                    dec %ecx
     * 1000f: eb ef                    jmp 0x10000
     * </pre>
     */
    private static final String COMPUTE = "01 c8 48 8d 14 50 89 14 25 00 00 03 00 ff c9 eb ef";

    /**
     * Loads through the TLB over 64 KiB (16 pages of 4 KiB in one 2 MiB page), every one a hit:
     * <pre>
     * 10000: 48 8b 04 0e              mov (%rsi,%rcx,1),%rax
     * 10004: 48 83 c1 40              add $0x40,%rcx
     * 10008: 81 e1 ff ff 00 00        and $0xffff,%ecx
     * 1000e: eb f0                    jmp 0x10000
     * </pre>
     */
    private static final String LOADS = "48 8b 04 0e 48 83 c1 40 81 e1 ff ff 00 00 eb f0";

    /**
     * The bench rdtsc kernel's loop (9 instructions per iteration), RSI counting down from 2^63:
     * <pre>
     * 10000: 0f 31          rdtsc
     * 10002: 48 89 cf       mov %rcx,%rdi
     * 10005: 48 c1 e2 20    shl $0x20,%rdx
     * 10009: 89 c1          mov %eax,%ecx
     * 1000b: 48 09 d1       or %rdx,%rcx
     * 1000e: 48 39 f9       cmp %rdi,%rcx
     * 10011: 48 83 d3 00    adc $0x0,%rbx
     * 10015: 48 83 ee 01    sub $0x1,%rsi
     * 10019: 75 e5          jne 10000
     * </pre>
     */
    private static final String RDTSC_LOOP = "0f 31 48 89 cf 48 c1 e2 20 89 c1 48 09 d1 48 39 f9 48 83 d3 00 48 83 ee 01 75 e5";
    /** The same loop with RDTSC replaced by a two-byte NOP ({@code 66 90}): the baseline. */
    private static final String NOP_LOOP = "66 90" + RDTSC_LOOP.substring(5);
    private static final int LOOP_INSNS = 9;
    private static final int LOOP_RUN = 9 * 2_000;

    /**
     * The inner loop of Linux's {@code mpihelp_submul_1} (Debian's 6.1 kernel, generic C
     * {@code umul_ppmm}: four 32x32 IMULs per limb, SETB and ADC for the borrow), 38
     * instructions per limb, over 64 limbs at DATA and restarted: the loop that RSA self-tests
     * spend most of a Linux boot's last seconds in. Its bytes from 0x166 on are the kernel's.
     * <pre>
     *   mov $0x100000,%ebx; mov $0x101000,%r11d; mov $-64,%r12; mov %r12,%r8; mov %r12,%rax
     *   mov $0x12345678,%r9d; mov $0x87654321,%r10d; movabs $1&lt;&lt;32,%rbp; xor %esi,%esi
     *   jmp 1f
     * 0: movslq %r8d,%rax
     * 1: sub %r12,%rax; mov (%rbx,%rax,8),%rcx; lea 0(,%rax,8),%rdi; ... (umul_ppmm)
     *    ... setb %sil; add %r11,%rdi; shr $32,%rcx; mov (%rdi),%r13; movzbl %sil,%esi
     *    sub %rax,%r13; adc %rcx,%rsi; mov %r13,(%rdi); add %rdx,%rsi; add $1,%r8d; jne 0b
     *    jmp (to the start)
     * </pre>
     */
    private static final String BIGNUM_LOOP = "bb 00 00 10 00 41 bb 00 10 10 00 49 c7 c4 c0 ff ff ff 4d 89 e0"
            + " 4c 89 e0 41 b9 78 56 34 12 41 ba 21 43 65 87 48 bd 00 00 00 00 01 00 00 00 31 f6 eb 03"
            + " 49 63 c0 4c 29 e0 48 8b 0c c3 48 8d 3c c5 00 00 00 00 48 89 ca 89 c9 48 c1 ea 20 48 89 c8"
            + " 49 0f af c1 49 89 d5 4d 0f af e9 49 0f af ca 49 0f af d2 49 89 c6 89 c0 49 c1 ee 20 4c 01 e9"
            + " 4c 01 f1 49 89 d6 48 01 ea 4c 39 e9 49 89 cd 49 0f 43 d6 48 01 f0 49 c1 e5 20 4c 01 e8 48 39 f0"
            + " 40 0f 92 c6 4c 01 df 48 c1 e9 20 4c 8b 2f 40 0f b6 f6 49 29 c5 48 11 ce 4c 89 2f 48 01 d6"
            + " 41 83 c0 01 0f 85 7b ff ff ff e9 44 ff ff ff";
    private static final int BIGNUM_LIMB_INSNS = 38;
    private static final int BIGNUM_RUN = BIGNUM_LIMB_INSNS * 640;

    /**
     * Two ChaCha quarter-round halves on registers (13 instructions per iteration): the ADD
     * after each of the first three rotates replaces their CF and OF, the last one's live on
     * past the JMP.
     * <pre>
     * 10000: add %ebx,%eax; xor %eax,%edx; rol $16,%edx; add %edx,%ecx; xor %ecx,%ebx; rol $12,%ebx
     *        add %ebx,%eax; xor %eax,%edx; rol $8,%edx;  add %edx,%ecx; xor %ecx,%ebx; rol $7,%ebx
     *        jmp 0x10000
     * </pre>
     */
    private static final String ROTATE_ROUNDS = "01 d8 31 c2 c1 c2 10 01 d1 31 cb c1 c3 0c"
            + " 01 d8 31 c2 c1 c2 08 01 d1 31 cb c1 c3 07 eb e2";
    private static final int ROTATE_INSNS = 13;
    private static final int ROTATE_RUN = ROTATE_INSNS * 1_000;
    /**
     * A loop of four blocks joined by JMPs (2 instructions each): block-to-block dispatch
     * through the links, nothing else.
     * <pre>
     * 10000: add %ecx,%eax; jmp 10010
     * 10010: add %eax,%ebx; jmp 10020
     * 10020: xor %ebx,%edx; jmp 10030
     * 10030: dec %ecx;      jmp 10000
     * </pre>
     */
    private static final String BLOCK_CHAIN = "01 c8 eb 0c 00 00 00 00 00 00 00 00 00 00 00 00"
            + " 01 c3 eb 0c 00 00 00 00 00 00 00 00 00 00 00 00"
            + " 31 da eb 0c 00 00 00 00 00 00 00 00 00 00 00 00"
            + " ff c9 eb cc";
    private static final int CHAIN_INSNS = 8;
    private static final int CHAIN_RUN = CHAIN_INSNS * 1_000;
    /** A decode mix: mov r/m, add imm, lea with SIB, movzx, cmp, jcc, call, ret. */
    private static final String MIX = "48 8b 04 0e 48 83 c1 40 48 8d 14 50 0f b6 06 48 39 d0 75 f0 e8 00 00 00 00 c3";

    /** Runs before a block is compiled to a JVM method: 0 measures the interpreter alone. */
    @Param({"0", "50"})
    public int compileThreshold;

    private Cpu compute;
    private Cpu loads;
    private Cpu decoding;
    private Cpu rdtscLoop;
    private Cpu nopLoop;
    private Cpu bignum;
    private Cpu rotates;
    private Cpu chain;
    private Decoder decoder;
    private final Insn insn = new Insn();
    private long[] mixStarts;

    @Setup
    public void setUp() {
        compute = newCpu(COMPUTE);
        loads = newCpu(LOADS);
        loads.setGpr(Cpu.RSI, DATA);
        compute.setCompileThreshold(compileThreshold);
        loads.setCompileThreshold(compileThreshold);
        bignum = newCpu(BIGNUM_LOOP);
        bignum.setCompileThreshold(compileThreshold);
        rotates = newCpu(ROTATE_ROUNDS);
        rotates.setCompileThreshold(compileThreshold);
        chain = newCpu(BLOCK_CHAIN);
        chain.setCompileThreshold(compileThreshold);
        decoding = newCpu(MIX);
        rdtscLoop = newCpu(RDTSC_LOOP);
        rdtscLoop.setGpr(Cpu.RSI, Long.MAX_VALUE);
        nopLoop = newCpu(NOP_LOOP);
        nopLoop.setGpr(Cpu.RSI, Long.MAX_VALUE);
        decoder = new Decoder(decoding);
        byte[] mix = hex(MIX);
        long[] starts = new long[8];
        long ip = CODE;
        for (int i = 0; i < starts.length; i++) {
            starts[i] = ip;
            decoder.decode(insn, ip);
            ip += insn.len;
        }
        if (ip - CODE != mix.length) {
            throw new IllegalStateException("decode mix is " + (ip - CODE) + " bytes, expected " + mix.length);
        }
        mixStarts = starts;
    }

    private static Cpu newCpu(String code) {
        Vm vm = Vm.create(VmConfig.builder().ramBytes(64L << 20).build());
        GuestMemory memory = vm.memory();
        memory.write64(PML4, 0x2000 | 7);
        memory.write64(0x2000, 0x3000 | 7);
        for (int i = 0; i < 512; i++) {
            memory.write64(0x3000 + i * 8L, ((long) i << 21) | 0x87);
        }
        byte[] bytes = hex(code);
        memory.load(CODE, bytes, 0, bytes.length);
        for (int i = 0; i < 64; i++) {
            memory.write64(DATA + i * 8L, 0x9e37_79b9_7f4a_7c15L * (i + 1)); // the bignum loop's limbs
        }
        Cpu cpu = interpreterOf(vm.createVcpu());
        cpu.enterFlatLongMode(CODE, PML4, 0);
        cpu.setGpr(Cpu.RSP, STACK_TOP);
        return cpu;
    }

    /**
     * The vCPU's interpreter. {@code Vcpu} keeps it private (nothing above {@code vm} may touch
     * it), so the benchmark reads the field once at setup, outside anything measured.
     */
    private static Cpu interpreterOf(Vcpu vcpu) {
        try {
            java.lang.reflect.Field field = Vcpu.class.getDeclaredField("cpu");
            field.setAccessible(true);
            return (Cpu) field.get(vcpu);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("Vcpu has no field cpu any more", e);
        }
    }

    private static byte[] hex(String s) {
        String[] parts = s.trim().split("\\s+");
        byte[] b = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            b[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return b;
    }

    /** One guest instruction of the compute loop: block lookup or link, dispatch, lazy flags, a store. */
    @Benchmark
    @OperationsPerInvocation(RUN)
    public RunStop blockLoop() {
        return compute.run(RUN);
    }

    /** One guest instruction of the load loop: half of them loads through the TLB fast path. */
    @Benchmark
    @OperationsPerInvocation(RUN)
    public RunStop tlbLoads() {
        return loads.run(RUN);
    }

    /**
     * One iteration of the rdtsc loop on the default real-time clock: the guest's whole RDTSC
     * path (decode cache, dispatch, {@code VcpuBus.rdtsc}, the clock's reader) plus 8 plain
     * instructions. Subtract {@link #nopLoopIteration} for the RDTSC alone.
     */
    @Benchmark
    @OperationsPerInvocation(LOOP_RUN / LOOP_INSNS)
    public RunStop rdtscLoopIteration() {
        return rdtscLoop.run(LOOP_RUN);
    }

    /** One iteration of the same loop with a NOP in RDTSC's place. */
    @Benchmark
    @OperationsPerInvocation(LOOP_RUN / LOOP_INSNS)
    public RunStop nopLoopIteration() {
        return nopLoop.run(LOOP_RUN);
    }

    /** One limb of mpihelp_submul_1 (38 instructions; one restart of 10 instructions per 64 limbs). */
    @Benchmark
    @OperationsPerInvocation(BIGNUM_RUN / BIGNUM_LIMB_INSNS)
    public RunStop bignumLimb() {
        return bignum.run(BIGNUM_RUN);
    }

    /** One iteration of the rotate rounds (13 instructions, four of them ROL). */
    @Benchmark
    @OperationsPerInvocation(ROTATE_RUN / ROTATE_INSNS)
    public RunStop rotateRounds() {
        return rotates.run(ROTATE_RUN);
    }

    /** One iteration of the block chain: four blocks entered through their links. */
    @Benchmark
    @OperationsPerInvocation(CHAIN_RUN / CHAIN_INSNS)
    public RunStop blockChain() {
        return chain.run(CHAIN_RUN);
    }

    /** One instruction decoded (prefixes, ModRM/SIB, immediates, fast-form classification). */
    @Benchmark
    @OperationsPerInvocation(8)
    public int decode() {
        int len = 0;
        for (long ip : mixStarts) {
            decoder.decode(insn, ip);
            len += insn.len;
        }
        return len;
    }
}
