# apero's window, English. One message per line; { $name } is filled in by the app.
app-title = apero
offline-starting = Starting apero…
offline-not-running = apero's background service is not running, so you cannot talk or write yet.
offline-retrying = This window starts it when you press the button below, and keeps checking by itself.
offline-details = Details for whoever helps you
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
err-no-such-code = No room was found for these words. Check the number and the words with your friend, then try again.
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
call-quality-good = good connection
call-quality-lossy = some sound is lost
call-quality-relayed = through a friend
call-path-direct = direct
call-path-relayed = relayed
call-no-mic = No microphone: you can listen but not talk. { $error }
call-no-speaker = No speaker: others cannot be heard. { $error }
call-elsewhere = You are in the call of { $room }.
level = Your microphone level

settings = Settings
settings-name = Your name
settings-name-save = Change
settings-language = Language
settings-language-system = As the system
settings-input = Microphone
settings-output = Speaker
settings-default-device = Default
settings-login = Start apero when I log in
settings-login-failed = Could not change the login start: { $error }
settings-notifications = Notify me of new messages, calls and files in:
settings-mute-shortcut = While apero's icon is in the panel, Ctrl+Alt+M mutes and unmutes you from any window. If that key does nothing on your desktop, add a keyboard shortcut in your desktop's settings that runs this command:
settings-mute-command = Mute shortcut command
settings-theme = Appearance
settings-theme-system = As the system
settings-theme-light = Light
settings-theme-dark = Dark

error = Something went wrong: { $error }
dismiss = Dismiss

# The tray icon (apero-tray): its tooltip, menu and notifications.
tray-offline = apero is offline: { $why }
tray-offline-connecting = connecting…
tray-offline-not-running = the daemon is not running
tray-offline-gone = the daemon went away
tray-online = apero: online as { $name }
tray-in-call = In the call of { $room } ({ $count } in it)
tray-in-call-muted = muted
tray-in-call-speaking = speaking: { $names }
tray-start-daemon = Start the daemon
tray-stop-daemon = Stop the daemon
tray-quit = Quit
tray-join-with-code = Join with a code…
tray-no-rooms = No rooms yet: create one in apero's window, or join a friend's with their code
tray-room = { $room } ({ $online }/{ $members } online)
tray-room-in-call = { $room } ({ $online }/{ $members } online) — in call
tray-room-call = { $room } ({ $online }/{ $members } online) — { $count } in call
tray-join-call = Join call
tray-leave-call = Leave call
tray-copy-invite = Copy invite code
tray-copy-short-code = Copy short code
tray-open-chat = Open chat
tray-notifications = Notifications
tray-mute = Mute
tray-unmute = Unmute
tray-someone = someone
tray-message = { $who } in { $room }
tray-file = { $who } offered a file in { $room }
tray-file-body = { $name } ({ $size }) — `apero get { $id }`
tray-joined-call = { $names } joined the call
tray-joined-call-body = in { $room }
tray-devices-back = Your microphone and speaker work again
tray-devices-back-body = The call goes on with sound.
tray-mic-lost = Your microphone is not working
tray-mic-lost-body = The call goes on: the others do not hear you. { $error }
tray-speaker-lost = Your speaker is not working
tray-speaker-lost-body = The call goes on, but you hear nobody. { $error }
tray-sound-lost = No sound: microphone and speaker are not working
tray-sound-lost-body = The call goes on silent. { $error }
tray-missed = { $count } new while apero was away, in { $rooms }
tray-missed-message = { $who }: { $text }
tray-missed-file = { $who } offered { $name }
tray-missed-more = …and { $count } more
tray-daemon-not-started = apero's daemon did not start
tray-offline-note = apero is offline
tray-offline-note-body = Start the daemon from this menu first.
tray-not-in-call = Not in a call
tray-not-in-call-body = The mute shortcut works during a call.
tray-invite-copied = The invite code for { $room } is copied
tray-invite-not-copied = Could not copy the invite code for { $room }
tray-invite-hint = valid for 24 hours; your friend runs `apero join CODE`
tray-short-code-copied = The short code for { $room } is copied
tray-short-code-not-copied = Could not copy the short code for { $room }
tray-short-code-hint = for one person, valid for 10 minutes
tray-copy-failed-body = { $error }. The code: { $code }
tray-cannot-open-chat = Cannot open the chat
tray-cannot-open-window = Cannot open apero's window
tray-cannot-save = Cannot save the tray's settings
tray-failed-join-call = Could not join the call
tray-failed-leave-call = Could not leave the call
tray-failed-mute = Could not mute
tray-failed-unmute = Could not unmute
tray-failed-toggle-mute = Could not mute or unmute
tray-failed-invite = Could not make an invite code
tray-failed-short-code = Could not make a short code
tray-failed-open-chat = Could not open the chat
tray-failed-join-dialog = Could not open the join dialog
tray-failed-notifications = Could not change notifications
tray-failed-start-daemon = Could not start the daemon
tray-failed-stop-daemon = Could not stop the daemon
tray-failed-quit = Could not quit

# Closing the window during a call
close-title = You are still in a call
close-explain = If you close the window, the others can still hear you. Leave the call, or keep talking with the window closed (apero's icon in the panel shows the call, with mute and leave).
close-remember = Remember my choice
close-leave = Leave the call and close
close-keep = Keep talking in the background
close-no-tray = The call's icon could not be started ({ $error }): the window stays open so that you can see the call.
settings-close-in-call = Closing the window during a call
settings-close-ask = Ask me
settings-close-leave = Leave the call
settings-close-keep = Keep talking in the background
call-live = Your microphone is on
chat-new-messages = ↓ New messages
file-offered-you = You shared a file
file-stay = Keep the file where it is: friends download it from your computer while apero runs.
file-open = Open
file-open-failed = Nothing could open { $path }. Open it from your file manager.
file-saved-to = Saved in { $path }
settings-download-dir = Downloads go to
settings-download-default = Your Downloads folder
settings-download-bad = Type a full folder path, such as /home/you/Documents.
sound-meter-silent = No sound
sound-meter-quiet = Quiet
sound-meter-good = Good
sound-meter-loud = Too loud
people-title = People ({ $online }/{ $members } online)
people-in-call = in the call
people-offline = offline
people-mute-for-me = Mute for me
people-unmute-for-me = Unmute for me
people-copy-name = Copy their name
picture-open = Click to see it large
picture-of = Picture: { $name }
picture-failed = This picture cannot be shown here: { $error }
settings-auto-pictures = Download pictures by themselves up to
chat-edited = (edited)
chat-reply-gone = a message that is no longer here
chat-reply = Reply
chat-react = React
chat-edit = Edit
chat-delete = Delete for everyone
chat-copy = Copy the text
chat-replying = Replying to { $name }: { $text }
chat-editing = Editing your message (Enter saves it for everyone)
chat-save = Save
share-screen = Share my screen
share-stop = Stop sharing
share-you-screen = You are sharing your screen
share-you-camera = Your camera is on
share-nobody-yet = nobody sees it yet
share-seen-by = seen by { $names }
share-pick-help = Pick what your friends in the call will see. Nothing is shown before you pick.
share-test = A moving test pattern (to check that friends receive it)
share-none = No screen or window was found to share.
share-screen-of = { $name }'s screen
share-waiting = Waiting for { $name }'s first picture…
share-fit = Fit
share-actual = 1:1
share-full = Whole window
share-self-view = What you share
camera-start = Turn on my camera
camera-stop = Turn off my camera
camera-pick-help = Pick a camera. Your friends in the call see it until you turn it off.
camera-test = A test camera (a moving pattern)
camera-none = No camera was found.
camera-of = { $name }'s camera
tray-sharing-screen = sharing your screen
tray-sharing-camera = camera on
tray-stop-sharing = Stop sharing (screen and camera)
tray-failed-stop-sharing = Could not stop sharing
camera-preview-help = Only you see this. Check your camera, then turn it on for the call.
camera-go = Turn it on for everyone
share-you-preview = Camera preview: only you see it
