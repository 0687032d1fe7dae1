package org.tscvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Runs a front end in this JVM and keeps what it printed. */
record CliRun(int status, String out, String err) {
    interface Entry {
        int execute(String[] args, PrintStream out, PrintStream err);
    }

    static CliRun of(Entry entry, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = entry.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CliRun(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static CliRun tscvm(String... args) {
        return of(Main::execute, args);
    }

    static CliRun qemu(String... args) {
        return of(QemuMain::execute, args);
    }

    /** Writes {@code bytes} to the file {@code name} in {@code dir}: a kernel, initrd or env file for a run. */
    static Path write(Path dir, String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** The front end refused with one line on stderr, "tscvm: ...", that contains {@code contains}. */
    static void assertOneLine(CliRun run, String contains) {
        assertThat(run.err().lines()).hasSize(1);
        assertThat(run.err()).startsWith("tscvm: ").contains(contains);
    }

    /** A multiboot ELF32 whose one PT_LOAD at {@code paddr} holds {@code code}, entered at its start. */
    static byte[] multibootElf32(int paddr, byte[] code) {
        int codeOff = 0x60;
        ByteBuffer b = ByteBuffer.allocate(codeOff + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) 3).putInt(1).putInt(paddr).putInt(52).putInt(0).putInt(0);
        b.putShort((short) 52).putShort((short) 32).putShort((short) 1);
        b.position(52);
        b.putInt(1).putInt(codeOff).putInt(paddr).putInt(paddr).putInt(code.length).putInt(code.length)
                .putInt(5).putInt(16);
        b.position(0x54);
        b.putInt(0x1BADB002).putInt(0).putInt(-0x1BADB002);
        b.position(codeOff);
        b.put(code);
        return b.array();
    }

    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    /**
     * 32-bit code, paging off: one store every {@code stride} bytes from 2 MiB up to {@code end},
     * then HLT: a guest that touches RAM.
     */
    static byte[] touchRam(int stride, int end) {
        return bytes(
                0xbf, 0x00, 0x00, 0x20, 0x00,                   // mov edi, 0x200000
                0x89, 0x07,                                     // loop: mov [edi], eax
                0x81, 0xc7, stride & 0xff, (stride >>> 8) & 0xff, (stride >>> 16) & 0xff, stride >>> 24, // add edi, stride
                0x81, 0xff, end & 0xff, (end >>> 8) & 0xff, (end >>> 16) & 0xff, end >>> 24,             // cmp edi, end
                0x72, 0xf0,                                     // jb loop
                0xf4);                                          // hlt
    }
}
