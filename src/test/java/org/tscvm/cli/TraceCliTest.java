package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tscvm.json.Json;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

/** {@code --trace}, {@code --trace-kinds}, {@code plot} and {@code -d} through the real command lines. */
class TraceCliTest {
    @TempDir
    Path dir;

    private static Path kernel(String name) {
        Path p = Path.of(System.getProperty("tscvm.guests", "target/guests"), name + ".elf");
        assumeTrue(Files.isRegularFile(p), "guest kernel " + p + " was not built");
        return p;
    }

    /** Every event of the trace, parsed with the strict reader. */
    private static List<Map<?, ?>> events(Path trace) throws IOException {
        Map<?, ?> root = (Map<?, ?>) Json.parse(Files.readString(trace));
        List<Map<?, ?>> events = new ArrayList<>();
        for (Object e : (List<?>) root.get("traceEvents")) {
            events.add((Map<?, ?>) e);
        }
        return events;
    }

    private static List<Map<?, ?>> instants(List<Map<?, ?>> events, String kind) {
        return events.stream().filter(e -> "i".equals(e.get("ph")) && kind.equals(args(e).get("kind"))).toList();
    }

    private static Map<?, ?> args(Map<?, ?> event) {
        return (Map<?, ?>) event.get("args");
    }

    private static long arg(Map<?, ?> event, String name) {
        return ((Number) args(event).get(name)).longValue();
    }

    private static int tid(Map<?, ?> event) {
        return ((Number) event.get("tid")).intValue();
    }

    private static double ts(Map<?, ?> event) {
        return ((Number) event.get("ts")).doubleValue();
    }

    @Test
    void theDemoTraceTellsTheSeedsStoryOnVcpu0sTrack() throws IOException {
        assumeTrue(Main.demoKernel() != null, "this build has no demo kernel");
        Path trace = dir.resolve("demo.json");
        CliRun run = CliRun.tscvm("demo", "-serial", "none", "--clock", "deterministic", "--timeout", "60",
                "--trace", trace.toString());
        assertThat(run.status()).as(run.out() + run.err()).isZero();
        List<Map<?, ?>> events = events(trace);
        assertThat(events).anyMatch(e -> "thread_name".equals(e.get("name")) && tid(e) == 1
                && "vCPU 0".equals(args(e).get("name")));
        List<Map<?, ?>> writes = instants(events, "MSR_WRITE");
        assertThat(writes).allMatch(e -> tid(e) == 1);
        Map<?, ?> hostAdjust = writes.stream().filter(e -> "0x3b".equals(args(e).get("msr"))
                && "host".equals(args(e).get("origin"))).findFirst().orElseThrow();
        Map<?, ?> guestAdjust = writes.stream().filter(e -> "0x3b".equals(args(e).get("msr"))
                && "guest".equals(args(e).get("origin"))).findFirst().orElseThrow();
        Map<?, ?> guestTsc = writes.stream().filter(e -> "0x10".equals(args(e).get("msr"))
                && "guest".equals(args(e).get("origin"))).findFirst().orElseThrow();

        // R8: the host's write sets the adjust and leaves the TSC where it was.
        assertThat(arg(hostAdjust, "adjust_before")).isZero();
        assertThat(arg(hostAdjust, "adjust_after")).isEqualTo(Main.DEMO_FIRMWARE_TSC_ADJUST);
        assertThat(arg(hostAdjust, "tsc_after")).isEqualTo(arg(hostAdjust, "tsc_before"));
        // R6: the guest adds 1,000,000,000 to its adjust, and the TSC moves by exactly that.
        assertThat(arg(guestAdjust, "adjust_after") - arg(guestAdjust, "adjust_before")).isEqualTo(1_000_000_000L);
        assertThat(arg(guestAdjust, "tsc_after") - arg(guestAdjust, "tsc_before")).isEqualTo(1_000_000_000L);
        assertThat(arg(guestAdjust, "offset_after") - arg(guestAdjust, "offset_before")).isEqualTo(1_000_000_000L);
        // R4: the guest's TSC write lands on the value and moves the adjust by the same delta.
        long delta = arg(guestTsc, "tsc_after") - arg(guestTsc, "tsc_before");
        assertThat(arg(guestTsc, "tsc_after")).isEqualTo(arg(guestTsc, "value"));
        assertThat(arg(guestTsc, "adjust_after") - arg(guestTsc, "adjust_before")).isEqualTo(delta);
        assertThat(delta).isGreaterThan(49_000_000_000L);
        // In the seed's order, and the guest's own writes after instructions ran.
        assertThat(ts(hostAdjust)).isLessThan(ts(guestAdjust));
        assertThat(ts(guestAdjust)).isLessThan(ts(guestTsc));
        assertThat(arg(guestAdjust, "instructions")).isPositive().isLessThan(arg(guestTsc, "instructions"));
        assertThat(instants(events, "VCPU_CREATE")).hasSize(1);
        assertThat(instants(events, "GENERATION")).isNotEmpty(); // the host's restore-style TSC write (R10)
        assertValidJsonForPython(trace);
    }

    @Test
    void anSmpGuestHasOneTrackPerVcpuWithInitAndSipiOnTheApplicationProcessors() throws IOException {
        Path trace = dir.resolve("smp.json");
        CliRun run = CliRun.tscvm("run", "-kernel", kernel("smp").toString(), "-smp", "4", "-serial", "none",
                "--clock", "deterministic", "--timeout", "120", "--trace", trace.toString());
        assertThat(run.status()).as(run.err()).isEqualTo(1);
        List<Map<?, ?>> events = events(trace);
        assertThat(events.stream().filter(e -> "thread_name".equals(e.get("name"))).map(e -> (String) args(e).get("name")))
                .containsExactly("vCPU 0", "vCPU 1", "vCPU 2", "vCPU 3");
        assertThat(instants(events, "VCPU_CREATE")).extracting(TraceCliTest::tid).containsExactly(1, 2, 3, 4);
        for (int tid = 2; tid <= 4; tid++) {
            int t = tid;
            List<Map<?, ?>> init = instants(events, "INIT").stream().filter(e -> tid(e) == t).toList();
            List<Map<?, ?>> sipi = instants(events, "SIPI").stream().filter(e -> tid(e) == t).toList();
            // The machine's power-on INIT, then the guest's INIT IPI; only the first STARTUP counts.
            assertThat(init).as("vCPU %d", tid - 1).isNotEmpty();
            assertThat(sipi).as("vCPU %d", tid - 1).hasSize(1);
            assertThat(ts(sipi.get(0))).isGreaterThanOrEqualTo(ts(init.get(init.size() - 1)));
            assertThat(arg(sipi.get(0), "vector")).isPositive();
        }
        assertThat(instants(events, "INIT")).noneMatch(e -> tid(e) == 1);

        Path svg = dir.resolve("smp.svg");
        CliRun plot = CliRun.tscvm("plot", trace.toString(), "-o", svg.toString());
        assertThat(plot.status()).as(plot.err()).isZero();
        Document doc = parseXml(svg);
        assertThat(series(doc)).hasSize(4);
        assertThat(doc.getDocumentElement().getTagName()).isEqualTo("svg");
    }

    @Test
    void kindsSelectWhatIsRecorded() throws IOException {
        assumeTrue(Main.demoKernel() != null, "this build has no demo kernel");
        Path trace = dir.resolve("msr.json");
        CliRun run = CliRun.tscvm("demo", "-serial", "none", "--clock", "deterministic", "--timeout", "60",
                "--trace", trace.toString(), "--trace-kinds", "msr");
        assertThat(run.status()).as(run.err()).isZero();
        List<Map<?, ?>> instants = events(trace).stream().filter(e -> "i".equals(e.get("ph"))).toList();
        assertThat(instants).hasSizeGreaterThanOrEqualTo(4).allMatch(e -> "msr".equals(e.get("cat")));

        Path cpuOnly = dir.resolve("cpu.json");
        run = CliRun.tscvm("demo", "-serial", "none", "--clock", "deterministic", "--timeout", "60",
                "--trace", cpuOnly.toString(), "--trace-kinds", "cpu,exit");
        assertThat(run.status()).as(run.err()).isZero();
        assertThat(events(cpuOnly)).filteredOn(e -> "i".equals(e.get("ph")))
                .isNotEmpty().allMatch(e -> "cpu".equals(e.get("cat")) || "exit".equals(e.get("cat")));
    }

    @Test
    void thePlotOfTheDemoMarksTheWritesOnOneSeries() throws IOException {
        assumeTrue(Main.demoKernel() != null, "this build has no demo kernel");
        Path trace = dir.resolve("demo.json");
        assertThat(CliRun.tscvm("demo", "-serial", "none", "--clock", "deterministic", "--trace", trace.toString())
                .status()).isZero();
        Path svg = dir.resolve("demo.svg");
        assertThat(CliRun.tscvm("plot", trace.toString(), "-o", svg.toString()).status()).isZero();
        Document doc = parseXml(svg);
        assertThat(series(doc)).hasSize(1);
        // Two TSC_ADJUST writes (host, guest), two TSC writes (host, guest), one generation change.
        assertThat(markers(doc, "circle")).isEqualTo(2);
        assertThat(markers(doc, "diamond")).isEqualTo(2);
        assertThat(markers(doc, "square")).isEqualTo(1);
    }

    @Test
    void badTraceOptionsAndFilesGetTheirStatus() throws IOException {
        CliRun run = CliRun.tscvm("run", "-kernel", "k.elf", "--trace", dir.resolve("t.json").toString(),
                "--trace-kinds", "msr,nonsense");
        assertThat(run.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(run, "'nonsense'");
        run = CliRun.tscvm("run", "-kernel", "k.elf", "--trace-kinds", "msr");
        assertThat(run.status()).isEqualTo(ExitStatus.USAGE);
        CliRun.assertOneLine(run, "--trace-kinds needs --trace FILE");

        Path corrupt = CliRun.write(dir, "corrupt.json", "{\"traceEvents\":[1,]}".getBytes());
        run = CliRun.tscvm("plot", corrupt.toString(), "-o", dir.resolve("x.svg").toString());
        assertThat(run.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(run, "is not a tscvm trace");
        assertThat(dir.resolve("x.svg")).doesNotExist();
        run = CliRun.tscvm("plot", dir.resolve("missing.json").toString(), "-o", dir.resolve("x.svg").toString());
        assertThat(run.status()).isEqualTo(ExitStatus.FILE);
        run = CliRun.tscvm("plot", corrupt.toString());
        assertThat(run.status()).isEqualTo(ExitStatus.USAGE);

        assumeTrue(Main.demoKernel() != null, "this build has no demo kernel");
        run = CliRun.tscvm("demo", "-serial", "none", "--trace", dir.resolve("no-dir").resolve("t.json").toString());
        assertThat(run.status()).isEqualTo(ExitStatus.FILE);
        CliRun.assertOneLine(run, "cannot write the trace file");
    }

    @Test
    void theQemuFrontEndTakesItsOwnTraceOptionAndDashD() throws IOException {
        Path trace = dir.resolve("q.json");
        CliRun run = CliRun.qemu("-kernel", kernel("tsc").toString(), "-serial", "none", "-nodefaults",
                "--tscvm-trace", trace.toString(), "--tscvm-trace-kinds", "msr", "-d", "options");
        assertThat(run.status()).as(run.err()).isEqualTo(1);
        assertThat(events(trace)).filteredOn(e -> "i".equals(e.get("ph"))).isNotEmpty()
                .allMatch(e -> "msr".equals(e.get("cat")));
        assertThat(run.err().lines()).containsExactly("tscvm: options: ignored -nodefaults: it changes nothing tscvm does");
        // QEMU's own -trace means something else: refused, not taken for tscvm's.
        assertThat(CliRun.qemu("-kernel", kernel("tsc").toString(), "-trace", "events=x").status())
                .isEqualTo(ExitStatus.OPTION_VALUE);
        // Without -d the ignored option stays silent.
        run = CliRun.qemu("-kernel", kernel("tsc").toString(), "-serial", "none", "-nodefaults");
        assertThat(run.err()).isEmpty();
    }

    @Test
    void dashDTakesQemusTopicNamesAndRefusesOthers() {
        CliRun help = CliRun.tscvm("run", "-d", "help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("unimp", "guest_errors", "options");
        CliRun bad = CliRun.tscvm("run", "-kernel", "k.elf", "-d", "unimp,cpu_reset");
        assertThat(bad.status()).isEqualTo(ExitStatus.OPTION_VALUE);
        CliRun.assertOneLine(bad, "-d cpu_reset is not a log topic");
    }

    @Test
    void guestErrorsLogsEachUnclaimedPortOnceAndIsSilentByDefault() throws IOException {
        // out %al, $0x99 twice; in $0x99, %al; out to isa-debug-exit.
        byte[] code = {(byte) 0xb0, 0, (byte) 0xe6, (byte) 0x99, (byte) 0xe6, (byte) 0x99, (byte) 0xe4, (byte) 0x99,
            (byte) 0xb0, 0, (byte) 0xe6, (byte) 0xf4};
        Path kernel = CliRun.write(dir, "ports.elf", CliRun.multibootElf32(0x100000, code));
        CliRun quiet = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none");
        assertThat(quiet.status()).isEqualTo(1);
        assertThat(quiet.err()).isEmpty();
        CliRun logged = CliRun.tscvm("run", "-kernel", kernel.toString(), "-serial", "none", "-d", "guest_errors");
        assertThat(logged.status()).isEqualTo(1);
        assertThat(logged.err().lines()).containsExactly(
                "tscvm: guest_errors: OUT 0x0 to port 0x99, which no device claims: dropped");
    }

    private static Document parseXml(Path svg) throws IOException {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setNamespaceAware(true);
            return f.newDocumentBuilder().parse(new InputSource(new StringReader(Files.readString(svg))));
        } catch (Exception e) {
            throw new AssertionError("not well-formed XML: " + e.getMessage(), e);
        }
    }

    private static List<Element> series(Document doc) {
        NodeList lines = doc.getElementsByTagName("polyline");
        List<Element> series = new ArrayList<>();
        for (int i = 0; i < lines.getLength(); i++) {
            Element e = (Element) lines.item(i);
            if (e.getAttribute("class").equals("series")) {
                series.add(e);
            }
        }
        return series;
    }

    private static long markers(Document doc, String shape) {
        NodeList groups = doc.getElementsByTagName("g");
        long n = 0;
        for (int i = 0; i < groups.getLength(); i++) {
            if (((Element) groups.item(i)).getAttribute("class").equals("marker " + shape)) {
                n++;
            }
        }
        return n;
    }

    /** A second, independent strict reader where the machine has one: Python's json module. */
    private static void assertValidJsonForPython(Path trace) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("python3", "-c",
                "import json,sys\n"
                        + "def no_constants(c): raise ValueError('not JSON: ' + c)\n"
                        + "json.load(open(sys.argv[1]), parse_constant=no_constants)", trace.toString());
        pb.redirectErrorStream(true);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return; // no python3 here: the strict Java reader above has checked it
        }
        try {
            String output = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(output).isZero();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
