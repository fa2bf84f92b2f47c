# apero's window, English. One message per line; { $name } is filled in by the app.
app-title = apero
offline-starting = Starting apero…
offline-not-running = apero is not running.
offline-retrying = Trying again every few seconds.
offline-start = Start apero
connected-as = You are { $name }

welcome-title = Welcome to apero
welcome-intro = Calls, messages and files between friends, straight from your computer to theirs.
welcome-name = What should your friends call you?
welcome-continue = Continue

sound-title = Your microphone and speaker
sound-intro = Speak: the bar moves when your microphone hears you.
sound-level = Microphone level
sound-speak = Your microphone works: say something.
sound-speaking = Your voice comes through.
sound-silent = Nothing comes from this microphone: is it muted, or is another one plugged in?
sound-test = Test my microphone
sound-test-stop = Stop the test
sound-test-hint = Say a few words: you will hear yourself a second later, as your friends will hear you.
sound-in-call = During a call your level shows in the call panel; leave the call to test your microphone.
sound-input-missing = Microphone: { $error }
sound-output-missing = Speaker: { $error }
sound-continue = Continue

rooms = Rooms
room-create = New room
room-create-name = Room name
room-create-confirm = Create
room-leave = Leave room
room-leave-confirm = Leave { $room }? You will need a new code to come back.
room-members = { $online } of { $members } online
room-unread = { $count ->
    [one] 1 new message
   *[other] { $count } new messages
}
no-rooms = You are in no room yet. Create one, or join a friend's with the code they sent you.
pick-room = Pick a room on the left.

join = Join with a code
join-code = Invite code
join-hint = Paste the long code, or type the short one (like 7-guitar-orbit).
join-confirm = Join
joining = Joining… this can take up to a minute.
join-done = You joined { $room }.
err-invalid-code = This code is not valid. Check it and try again.
err-expired = This code has expired. Ask your friend for a new one.
err-revoked = This code was withdrawn. Ask your friend for a new one.
err-already-used = This code was already used. Ask your friend for a new one.
err-unreachable = Nobody in that room could be reached. Ask your friend to keep apero open, then try again.
err-already-member = You are already in this room.
err-refused = The room refused this code.
cancel = Cancel
close = Close

invite = Invite
invite-title = Invite someone to { $room }
invite-short = Short code, to read out on the phone
invite-long = Long code, to send by message or e-mail
invite-expiry = Valid for
invite-once = Only one person can use it
invite-create = Make a code
invite-code = Invite code
invite-copy = Copy
invite-copied = Copied.
invite-expires = Valid until { $time }.
minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}
hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}
days = { $n ->
    [one] 1 day
   *[other] { $n } days
}

chat-message = Message
chat-send = Send
chat-empty = No messages yet. Say hello!
chat-you = You
share-file = Share a file
share-choose = Choose a file…
share-no-chooser = No file chooser is available here: type the file's path below, or drop the file onto the window.
share-path = File to share
share-confirm = Share
share-drop = Or drop files onto the window.
file-offered = { $name } shared a file
file-download = Download
file-cancel = Stop
file-open-folder = Open folder
file-progress = { $done } of { $size }
file-done = Downloaded
file-failed = Download failed: { $error }
file-waiting = Waiting for someone who has it to come online

call = Call
call-join = Join the call
call-leave = Leave the call
call-mute = Mute
call-unmute = Unmute
call-muted = Muted
call-speaking = speaking
call-in-room = { $count ->
    [one] 1 person in the call
   *[other] { $count } people in the call
}
call-nobody = Nobody is in the call.
call-volume = Volume for { $name }
call-quality-good = good
call-quality-lossy = lossy
call-quality-relayed = relayed
call-path-direct = direct
call-path-relayed = relayed
call-no-mic = No microphone: you can listen but not talk. { $error }
call-no-speaker = No speaker: others cannot be heard. { $error }
call-elsewhere = You are in the call of { $room }.
level = Your microphone level

settings = Settings
settings-language = Language
settings-language-system = As the system
settings-input = Microphone
settings-output = Speaker
settings-default-device = Default
settings-login = Start apero when I log in
settings-login-failed = Could not change the login start: { $error }
settings-notifications = Notify me of new messages, calls and files in:
settings-mute-shortcut = While apero's tray icon runs, Ctrl+Alt+M mutes and unmutes the call from anywhere (on X11 desktops). On Wayland, or for another key, add a keyboard shortcut in your desktop's settings that runs this command:
settings-mute-command = Mute shortcut command
settings-theme = Appearance
settings-theme-system = As the system
settings-theme-light = Light
settings-theme-dark = Dark

error = Something went wrong: { $error }
dismiss = Dismiss
