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
}
