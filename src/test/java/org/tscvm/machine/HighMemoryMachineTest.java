package org.tscvm.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;
import org.tscvm.vm.VmConfig;

/**
 * The highmem guest (guests/highmem.c) on machines with RAM above 4 GiB: it checks the memory
 * map, mem_upper and CMOS against fw_cfg's RAM size and writes patterns on both sides of the
 * PCI hole and at the top of RAM. Run in this JVM so the RAM the guest touched can be counted.
 */
class HighMemoryMachineTest {
    private static final Path GUESTS = Path.of(System.getProperty("tscvm.guests", "target/guests"));

    private record Run(RunResult result, String serial, GuestMemory memory) {
    }

    private static Run boot(long ramBytes) {
        Path kernel = GUESTS.resolve("highmem.elf");
        assumeTrue(Files.isRegularFile(kernel), "guest kernel " + kernel + " was not built");
        ByteArrayOutputStream serial = new ByteArrayOutputStream();
        Machine machine = new Machine(MachineConfig.builder()
                .kernel(kernel)
                .ramBytes(ramBytes)
                .serial(new SerialTarget.ToStream(serial))
                .clock(VmConfig.ClockKind.DETERMINISTIC)
                .timeout(Duration.ofSeconds(60))
                .build());
        RunResult result = machine.run();
        return new Run(result, serial.toString(StandardCharsets.US_ASCII), machine.vm().memory());
    }

    @Test
    void sixGibHaveThreeBelowTheHoleAndThreeAbove4GibThatHoldWhatIsWritten() {
        Run r = boot(6L << 30);
        assertThat(r.result().exitStatus()).as(r.serial()).isEqualTo(1);
        assertThat(r.serial()).contains("RAM 0x180000000: 0xc0000000 below 4 GiB, 0xc0000000 above")
                .contains("mmap [0x100000000, 0x1c0000000) type 1")
                .contains("PASS: pattern in the last pages of RAM")
                .contains("SUMMARY: 15 tests, 0 failures");
    }

    @Test
    void sixtyFourGibStartAndRunCostingOnlyTheChunksTheGuestWrote() {
        Run r = boot(64L << 30);
        assertThat(r.result().exitStatus()).as(r.serial()).isEqualTo(1);
        assertThat(r.serial()).contains("mmap [0x100000000, 0x1040000000) type 1").contains(" 0 failures");
        long touched = (long) r.memory().allocatedChunks() * GuestMemory.CHUNK_SIZE;
        // The image, its bss as far as written, page tables, stacks and the few test pages.
        assertThat(touched).as("bytes of RAM allocated").isLessThan(16L << 20);
        assertThat(r.memory().pageTouched((64L + 1 << 30) - GuestMemory.PAGE_SIZE)).as("the top page, written").isTrue();
        assertThat(r.memory().pageTouched(32L << 30)).as("a page nobody wrote").isFalse();
    }

    @Test
    void aMachineWithNoRamAbove4GibSkipsOnlyThoseChecks() {
        Run r = boot(3L << 30);
        assertThat(r.result().exitStatus()).as(r.serial()).isEqualTo(77);
        assertThat(r.serial()).contains("SKIP: RAM above 4 GiB").contains(" 0 failures");
    }
}
