package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Uart16550Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private boolean irq;
    private final Uart16550 uart = new Uart16550(out, high -> irq = high);

    @Test
    void lsrAlwaysShowsThreAndTemtSoPollingGuestsNeverWait() {
        assertThat(uart.read(Uart16550.LSR, 1) & 0x60).isEqualTo(0x60);
        uart.write(Uart16550.RBR_THR, 1, 'x');
        assertThat(uart.read(Uart16550.LSR, 1) & 0x60).isEqualTo(0x60);
    }

    @Test
    void thrBytesGoToTheSinkInOrder() {
        for (byte b : "hello\n".getBytes(StandardCharsets.US_ASCII)) {
            uart.write(Uart16550.RBR_THR, 1, b);
        }
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("hello\n");
    }

    @Test
    void dlabSwitchesOffsetsZeroAndOneToTheDivisorLatch() {
        // The classic init: LCR=0x80, DLL=1, DLM=0 (115200 baud), LCR=0x03.
        uart.write(Uart16550.LCR, 1, 0x80);
        uart.write(Uart16550.DLL, 1, 0x01);
        uart.write(Uart16550.DLM, 1, 0x00);
        assertThat(uart.read(Uart16550.DLL, 1)).isEqualTo(1);
        assertThat(uart.read(Uart16550.DLM, 1)).isEqualTo(0);
        uart.write(Uart16550.LCR, 1, 0x03);
        assertThat(uart.saveState().divisor()).isEqualTo(1);
        assertThat(uart.read(Uart16550.IER, 1)).isZero();
        assertThat(out.size()).isZero();
        uart.write(Uart16550.RBR_THR, 1, 'A');
        assertThat(out.toByteArray()).containsExactly('A');
    }

    @Test
    void receivedBytesRaiseTheRxInterruptAndAreReadInOrder() {
        uart.write(Uart16550.IER, 1, Uart16550.IER_RX_DATA);
        assertThat(irq).isFalse();
        assertThat(uart.receive(new byte[] {'o', 'k'}, 0, 2)).isEqualTo(2);
        assertThat(irq).isTrue();
        assertThat(uart.read(Uart16550.IIR_FCR, 1) & 0x0f).isEqualTo(Uart16550.IIR_RX_DATA);
        assertThat(uart.read(Uart16550.LSR, 1) & Uart16550.LSR_DATA_READY).isEqualTo(1);
        assertThat(uart.read(Uart16550.RBR_THR, 1)).isEqualTo('o');
        assertThat(irq).isTrue();
        assertThat(uart.read(Uart16550.RBR_THR, 1)).isEqualTo('k');
        assertThat(irq).isFalse();
        assertThat(uart.read(Uart16550.LSR, 1) & Uart16550.LSR_DATA_READY).isZero();
        assertThat(uart.read(Uart16550.IIR_FCR, 1) & 0x0f).isEqualTo(Uart16550.IIR_NO_INTERRUPT);
    }

    @Test
    void enablingTheThreInterruptRaisesItAndReadingIirClearsIt() {
        uart.write(Uart16550.IER, 1, Uart16550.IER_THR_EMPTY);
        assertThat(irq).isTrue();
        assertThat(uart.read(Uart16550.IIR_FCR, 1) & 0x0f).isEqualTo(Uart16550.IIR_THR_EMPTY);
        assertThat(irq).isFalse();
        uart.write(Uart16550.RBR_THR, 1, 'z');
        assertThat(irq).isTrue();
    }

    @Test
    void enabledFifosShowInTheTopBitsOfIir() {
        assertThat(uart.read(Uart16550.IIR_FCR, 1) & 0xc0).isZero();
        uart.write(Uart16550.IIR_FCR, 1, 0xc7);
        assertThat(uart.read(Uart16550.IIR_FCR, 1) & 0xc0).isEqualTo(0xc0);
    }

    @Test
    void loopbackReturnsTransmittedBytesAndModemLines() {
        uart.write(Uart16550.MCR, 1, Uart16550.MCR_LOOP | Uart16550.MCR_DTR | Uart16550.MCR_RTS);
        uart.write(Uart16550.RBR_THR, 1, 0x5a);
        assertThat(out.size()).isZero();
        assertThat(uart.read(Uart16550.RBR_THR, 1)).isEqualTo(0x5a);
        assertThat(uart.read(Uart16550.MSR, 1)).isEqualTo(Uart16550.MSR_DSR | Uart16550.MSR_CTS);
    }

    @Test
    void aFullFifoRefusesFurtherInput() {
        byte[] many = new byte[Uart16550.RX_FIFO_SIZE + 10];
        assertThat(uart.receive(many, 0, many.length)).isEqualTo(Uart16550.RX_FIFO_SIZE);
        assertThat(uart.receive(many, 0, 1)).isZero();
    }

    @Test
    void scratchRegisterHoldsAByte() {
        uart.write(Uart16550.SCR, 1, 0xa5);
        assertThat(uart.read(Uart16550.SCR, 1)).isEqualTo(0xa5);
    }

    @Test
    void restoreWithAPendingRxInterruptRaisesTheLineAgain() {
        uart.write(Uart16550.IER, 1, Uart16550.IER_RX_DATA);
        uart.receive(new byte[] {'q'}, 0, 1);
        Uart16550.State saved = uart.saveState();

        boolean[] line = {false};
        Uart16550 copy = new Uart16550(new ByteArrayOutputStream(), high -> line[0] = high);
        copy.restoreState(saved);
        assertThat(line[0]).isTrue();
        assertThat(copy.read(Uart16550.RBR_THR, 1)).isEqualTo('q');
        assertThat(line[0]).isFalse();
        assertThat(copy.saveState().ier()).isEqualTo(Uart16550.IER_RX_DATA);
    }
}
