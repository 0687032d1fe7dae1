package org.tscvm.cpu.diff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Differential tests of tscvm's interpreter against the host CPU (issue 3, "Tests"): seeded
 * random operands and flags for every form in {@link InstructionForms}, run natively through
 * tools/difftest/harness and on {@link org.tscvm.cpu.Cpu}, comparing all registers, the
 * defined flags and the memory buffer.
 *
 * <p>System properties: {@code tscvm.diff.cases} (default 250000), {@code tscvm.diff.seed},
 * {@code tscvm.diff.forms} (a regular expression selecting forms by name, e.g. {@code "shld.*"}).
 * A failing case is reproducible from its index: case i uses {@code new Random(seed + i)}.
 */
@Tag("differential")
class CpuDifferentialTest {
    private static final Path SOURCES = Path.of("tools", "difftest");
    private static final Path BUILD = Path.of("target", "difftest");
    private static final int DEFAULT_CASES = 250_000;
    private static final long DEFAULT_SEED = 0x75c_ad1bL;
    private static final int BATCH = 8192;
    private static final int SHOWN_FAILURES = 20;

    private static NativeHarness harness;

    @BeforeAll
    static void buildAndStartTheHarness() throws IOException, InterruptedException {
        String arch = System.getProperty("os.arch", "");
        assumeTrue(arch.equals("amd64") || arch.equals("x86_64"),
                "differential tests need an x86-64 host; this JVM runs on " + arch);
        assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"),
                "the difftest harness uses Linux mmap(MAP_FIXED_NOREPLACE) and signals");
        assumeTrue(NativeHarness.gccAvailable(), "gcc not found on PATH: skipping the differential "
                + "tests, which build tools/difftest/harness.c at test time");
        harness = NativeHarness.start(SOURCES, BUILD);
    }

    @AfterAll
    static void stopTheHarness() throws IOException {
        if (harness != null) {
            harness.close();
        }
    }

    // ---- Self-checks of the native side: these hold whatever the interpreter does. ------

    @Test
    void harnessRunsKnownInstructionsWithKnownResults() throws IOException {
        byte[] mem = new byte[DiffCase.BUF_SIZE];
        for (int i = 0; i < mem.length; i++) {
            mem[i] = (byte) i;
        }
        long[] regs = new long[16];
        regs[0] = 0x12345678_ffffffffL;                 // rax
        regs[3] = 1;                                    // rbx
        DiffCase add = known("add eax, ebx", new byte[] {0x01, (byte) 0xd8}, regs, 0, mem);

        long[] div = new long[16];
        div[0] = 7;                                     // rax / rcx with rcx = 0
        DiffCase divByZero = known("div ecx", new byte[] {(byte) 0xf7, (byte) 0xf1}, div, 0, mem);

        long[] str = new long[16];
        str[1] = 3;                                     // rcx
        str[6] = DiffCase.BUF_ADDR;                     // rsi
        str[7] = DiffCase.BUF_ADDR + 16;                // rdi
        DiffCase repMovsb = known("rep movsb", new byte[] {(byte) 0xf3, (byte) 0xa4}, str, 0, mem);

        DiffCase nopKeepsFlags = known("nop", new byte[] {(byte) 0x90}, new long[16],
                DiffCase.DF | DiffCase.CF | DiffCase.OF, mem);

        long[] load = new long[16];
        load[13] = 5;                                   // r13 -= qword [0x10000008]
        DiffCase subMem = known("sub r13, [abs]", new byte[] {0x4c, 0x2b, 0x2c, 0x25, 0x08, 0, 0, 0x10}, load, 0, mem);

        List<CpuState> out = harness.run(List.of(add, divByZero, repMovsb, nopKeepsFlags, subMem));

        assertThat(out.get(0).fault()).isEmpty();
        assertThat(out.get(0).gpr()[0]).as("a 32-bit add zero-extends into rax").isZero();
        assertThat(out.get(0).rflags() & DiffCase.ARITH_FLAGS).as("CF PF AF ZF after 0xffffffff + 1")
                .isEqualTo(DiffCase.CF | DiffCase.PF | DiffCase.AF | DiffCase.ZF);
        assertThat(out.get(0).gpr()[3]).isEqualTo(1);

        assertThat(out.get(1).fault()).isEqualTo("#DE (SIGFPE)");

        assertThat(out.get(2).fault()).isEmpty();
        assertThat(out.get(2).gpr()[1]).as("rcx counts down to 0").isZero();
        assertThat(out.get(2).gpr()[6]).isEqualTo(DiffCase.BUF_ADDR + 3);
        assertThat(out.get(2).gpr()[7]).isEqualTo(DiffCase.BUF_ADDR + 19);
        assertThat(out.get(2).mem()[16]).isEqualTo((byte) 0);
        assertThat(out.get(2).mem()[18]).isEqualTo((byte) 2);
        assertThat(out.get(2).mem()[19]).isEqualTo((byte) 19);

        assertThat(out.get(3).rflags() & DiffCase.LOADABLE_FLAGS).as("flags pass through unchanged")
                .isEqualTo(DiffCase.DF | DiffCase.CF | DiffCase.OF);

        long qword = 0x0f0e0d0c0b0a0908L;
        assertThat(out.get(4).gpr()[13]).isEqualTo(5 - qword);
        assertThat(out.get(4).rflags() & DiffCase.CF).as("borrow").isEqualTo(DiffCase.CF);
    }

    @Test
    void harnessAgreesWithAJavaModelOfAddSubAndXorOnRandomRegisters() throws IOException {
        Random rnd = new Random(DEFAULT_SEED);
        List<DiffCase> cases = new ArrayList<>();
        List<long[]> expected = new ArrayList<>();
        int[] opcodes = {0x01, 0x29, 0x21, 0x31};   // add, sub, and, xor r/m64, r64
        for (int i = 0; i < 4000; i++) {
            int kind = i % 4;
            int dst = pickNotRsp(rnd);
            int src = pickNotRsp(rnd);
            long[] regs = new long[16];
            for (int r = 0; r < 16; r++) {
                regs[r] = r == 4 ? 0 : rnd.nextLong() >> rnd.nextInt(64);
            }
            byte rex = (byte) (0x48 | (src >> 3) << 2 | (dst >> 3));
            byte modrm = (byte) (0xc0 | (src & 7) << 3 | (dst & 7));
            cases.add(known("model", new byte[] {rex, (byte) opcodes[kind], modrm}, regs,
                    rnd.nextLong() & DiffCase.LOADABLE_FLAGS, new byte[DiffCase.BUF_SIZE]));
            expected.add(modelAlu64(kind, regs[dst], regs[src]));
        }
        List<CpuState> out = harness.run(cases);
        for (int i = 0; i < cases.size(); i++) {
            DiffCase c = cases.get(i);
            int dst = c.code()[2] & 7 | (c.code()[0] & 1) << 3;
            long[] want = expected.get(i);
            assertThat(out.get(i).gpr()[dst]).as(c.describeInput()).isEqualTo(want[0]);
            long mask = i % 4 >= 2 ? DiffCase.ARITH_FLAGS & ~DiffCase.AF : DiffCase.ARITH_FLAGS;
            assertThat(out.get(i).rflags() & mask).as(c.describeInput()).isEqualTo(want[1] & mask);
        }
    }

    @Test
    void everyGeneratedFormRunsOnTheHostWithoutAFault() throws IOException {
        List<InstructionForms.Form> forms = InstructionForms.all(harness.features());
        List<DiffCase> cases = new ArrayList<>();
        for (int i = 0; i < forms.size() * 20; i++) {
            cases.add(forms.get(i % forms.size()).generator().generate(new Random(DEFAULT_SEED + i)));
        }
        List<CpuState> out = harness.run(cases);
        List<String> faults = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            boolean unmaskedSimd = out.get(i).fault().equals("#XM (SIGFPE)") && (cases.get(i).mxcsr() & 0x1f80) != 0x1f80;
            boolean misaligned = out.get(i).fault().equals("#GP/#PF (SIGSEGV)") && cases.get(i).misaligned();
            if (!out.get(i).completed() && !unmaskedSimd && !misaligned && faults.size() < SHOWN_FAILURES) {
                faults.add(out.get(i).fault() + ": " + cases.get(i).describeInput());
            }
        }
        assertThat(faults).as("the generator must only produce cases the host runs to completion "
                + "(or that raise #XM with exceptions unmasked, or #GP on a deliberately misaligned operand)").isEmpty();
    }

    @Test
    void everyFormEncodesTheInstructionItNamesAsObjdumpDisassemblesIt() throws IOException, InterruptedException {
        assumeTrue(commandWorks("objdump", "--version"), "objdump (binutils) not found");
        List<InstructionForms.Form> forms = InstructionForms.all(harness.features());
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        List<DiffCase> cases = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (int i = 0; i < forms.size() * 2; i++) {
            DiffCase c = forms.get(i % forms.size()).generator().generate(new Random(DEFAULT_SEED - i));
            offsets.add(all.size());
            cases.add(c);
            all.writeBytes(c.code());
        }
        java.nio.file.Files.createDirectories(BUILD);
        Path bin = BUILD.resolve("forms.bin");
        java.nio.file.Files.write(bin, all.toByteArray());
        Process objdump = new ProcessBuilder("objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel",
                bin.toString()).redirectErrorStream(true).start();
        String listing = new String(objdump.getInputStream().readAllBytes());
        assertThat(objdump.waitFor()).isZero();

        Map<Integer, String> byOffset = new java.util.HashMap<>();
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?m)^\\s*([0-9a-f]+):\\t[0-9a-f ]+\\t(.+)$").matcher(listing);
        while (m.find()) {
            byOffset.put(Integer.parseInt(m.group(1), 16), m.group(2));
        }
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            if (cases.get(i).form().contains(X87Forms.ALIAS)) {
                continue; // an undocumented alias: objdump prints "(bad)"
            }
            String expected = expectedMnemonic(cases.get(i).form());
            String text = byOffset.get(offsets.get(i));
            java.util.Set<String> tokens = text == null ? java.util.Set.of()
                    : new java.util.HashSet<>(List.of(text.split("[\\s,]+")));
            boolean named = tokens.contains(expected) || expected.equals("mov") && tokens.contains("movabs")
                    // CMPPS/CMPPD/CMPSS/CMPSD print their predicate: cmpltps, cmpunordsd ...
                    || expected.matches("cmp(ps|pd|ss|sd)") && tokens.stream().anyMatch(
                            t -> t.matches("cmp[a-z]*" + expected.substring(3)));
            if (text == null || text.contains("(bad)") || !named) {
                wrong.add(cases.get(i).form() + " -> " + (text == null ? "no instruction at this offset" : text));
            }
        }
        assertThat(wrong).as("forms whose bytes are not the instruction they name").isEmpty();
    }

    /** The mnemonic objdump -M intel prints for a form name: string ops lose their size letter. */
    private static String expectedMnemonic(String form) {
        String name = form.replace("lock ", "").replace(" (a32)", "");
        String first = name.split(" ")[0];
        if (first.equals("rep") || first.equals("repe") || first.equals("repne")) {
            first = name.split(" ")[1];
        }
        if (first.matches("(movs|cmps|stos|lods|scas)[bwdq]") && !name.contains("xmm")) {
            return first.substring(0, 4);
        }
        return first;
    }

    private static boolean commandWorks(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    // ---- The differential test itself. ----------------------------------------------------

    @Test
    void interpreterMatchesTheHostCpuOnRandomInstructions() throws IOException {
        int total = Integer.getInteger("tscvm.diff.cases", DEFAULT_CASES);
        long seed = Long.getLong("tscvm.diff.seed", DEFAULT_SEED);
        String selected = System.getProperty("tscvm.diff.forms", ".*");
        List<InstructionForms.Form> forms = InstructionForms.all(harness.features()).stream()
                .filter(f -> f.name().matches(selected)).toList();
        assertThat(forms).as("forms matching tscvm.diff.forms=" + selected).isNotEmpty();
        InterpreterRunner interpreter = new InterpreterRunner();
        Map<String, Integer> failuresByForm = new TreeMap<>();
        List<String> shown = new ArrayList<>();
        int failures = 0;
        long started = System.nanoTime();

        for (int first = 0; first < total; first += BATCH) {
            int n = Math.min(BATCH, total - first);
            List<DiffCase> batch = new ArrayList<>(n);
            for (int i = first; i < first + n; i++) {
                batch.add(forms.get(i % forms.size()).generator().generate(new Random(seed + i)));
            }
            List<CpuState> expected = harness.run(batch);
            for (int k = 0; k < n; k++) {
                DiffCase c = batch.get(k);
                CpuState host = expected.get(k);
                CpuState tscvm = interpreter.run(c);
                String difference = host.differenceFrom(tscvm, c);
                if (difference == null) {
                    continue;
                }
                failures++;
                failuresByForm.merge(forms.get((first + k) % forms.size()).name(), 1, Integer::sum);
                if (shown.size() < SHOWN_FAILURES) {
                    shown.add("case " + (first + k) + ": " + difference + "\n" + c.describeInput()
                            + "\n  host : " + host.describe(c) + "\n  tscvm: " + tscvm.describe(c));
                }
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("CpuDifferentialTest: %d cases over %d instruction forms in %.1f s (seed %d): %d mismatches%n",
                total, forms.size(), seconds, seed, failures);
        if (failures > 0) {
            System.out.println("mismatching forms (" + failuresByForm.size() + "), cases each: "
                    + failuresByForm.entrySet().stream().limit(80).map(e -> e.getKey() + "=" + e.getValue())
                            .collect(java.util.stream.Collectors.joining(", "))
                    + (failuresByForm.size() > 80 ? ", ..." : ""));
        }
        assertThat(failures).as("cases where tscvm differs from the host CPU; first ones:\n"
                + String.join("\n", shown)).isZero();
    }

    // ---- helpers -------------------------------------------------------------------------

    private static DiffCase known(String form, byte[] code, long[] gpr, long rflags, byte[] mem) {
        return new DiffCase(form, code, gpr, rflags, mem, DiffCase.ARITH_FLAGS, 0);
    }

    private static int pickNotRsp(Random rnd) {
        int r;
        do {
            r = rnd.nextInt(16);
        } while (r == 4);
        return r;
    }

    /** {result, rflags} of ADD/SUB/AND/XOR r/m64, r64, computed from the SDM definitions. */
    private static long[] modelAlu64(int kind, long a, long b) {
        long r;
        long flags = 0;
        switch (kind) {
            case 0 -> {
                r = a + b;
                if (Long.compareUnsigned(r, a) < 0) {
                    flags |= DiffCase.CF;
                }
                if (((a ^ r) & (b ^ r)) < 0) {
                    flags |= DiffCase.OF;
                }
                if (((a ^ b ^ r) & 0x10) != 0) {
                    flags |= DiffCase.AF;
                }
            }
            case 1 -> {
                r = a - b;
                if (Long.compareUnsigned(a, b) < 0) {
                    flags |= DiffCase.CF;
                }
                if (((a ^ b) & (a ^ r)) < 0) {
                    flags |= DiffCase.OF;
                }
                if (((a ^ b ^ r) & 0x10) != 0) {
                    flags |= DiffCase.AF;
                }
            }
            case 2 -> r = a & b;
            default -> r = a ^ b;
        }
        if (r == 0) {
            flags |= DiffCase.ZF;
        }
        if (r < 0) {
            flags |= DiffCase.SF;
        }
        if ((Integer.bitCount((int) (r & 0xff)) & 1) == 0) {
            flags |= DiffCase.PF;
        }
        return new long[] {r, flags};
    }
}
