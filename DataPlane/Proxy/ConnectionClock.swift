import NIOCore

/// One client connection's timeout clock, lazy: arming it only records a deadline; its one scheduled task re-arms
/// itself when it fires before the deadline, and is never scheduled more than `tick` ahead (the shortest timeout
/// it runs), so a new deadline is almost never earlier than the task and nothing is scheduled or cancelled per
/// request. Confined to the connection's event loop; used by ``ClientEdgeHandler`` and ``FastLaneHandler``.
final class ConnectionClock {
    /// When the clock runs out; nil while stopped.
    private(set) var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerAt = NIODeadline.distantFuture
    private let tick: TimeAmount
    private let eventLoop: any EventLoop
    /// Called on the event loop when the deadline has passed (the clock is stopped then). Set by the owner, which
    /// must ``cancel()`` the clock when its connection ends (the task holds this closure).
    var expired: () -> Void = {}

    init(eventLoop: any EventLoop, tick: TimeAmount) {
        self.eventLoop = eventLoop
        self.tick = tick
    }

    /// Sets the clock to run out at `deadline`.
    func arm(_ deadline: NIODeadline) {
        self.deadline = deadline
        if self.timer != nil {
            if self.timerAt <= deadline { return }
            self.timer?.cancel()
            self.timer = nil
        }
        self.schedule(min(deadline, .now() + self.tick))
    }

    /// Stops the clock (its task, if any, finds nothing to do when it fires).
    func stop() {
        self.deadline = nil
    }

    /// Stops the clock and cancels its task: the connection is done with.
    func cancel() {
        self.deadline = nil
        self.timer?.cancel()
        self.timer = nil
        self.expired = {}
    }

    private func schedule(_ at: NIODeadline) {
        self.timerAt = at
        self.timer = self.eventLoop.assumeIsolated().scheduleTask(deadline: at) {
            self.timer = nil
            guard let deadline = self.deadline else { return }
            let now = NIODeadline.now()
            if deadline > now {
                self.schedule(min(deadline, now + self.tick))
            } else {
                self.deadline = nil
                self.expired()
            }
        }
    }
}
